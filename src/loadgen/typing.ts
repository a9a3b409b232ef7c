// How fast simulated developers type. Inter-key intervals (IKI: key press to next key press) are
// lognormal, the usual shape of keystroke timing (strictly positive, right-skewed). The defaults
// come from the largest published typing study:
//
//   V. Dhakal, A. M. Feit, P. O. Kristensson, A. Oulasvirta. "Observations on Typing from 136
//   Million Keystrokes". CHI 2018, https://doi.org/10.1145/3173574.3174220
//   168,000 volunteers transcribing sentences: mean IKI 238.66 ms, SD 111.60 ms across participants
//   (about 52 words per minute).
//
// Two levels, as the study's statistics are per participant: each developer gets a mean IKI of
// their own, drawn so that developers' means have the study's mean and SD; their keystrokes then
// vary around it (within-typist spread: `ikiCv`, an assumption). Writing code is not transcription:
// people stop to think, most often at the end of a line. Those pauses are an assumption too
// (`pauseProb`, `linePauseProb`, `pauseMeanMs`), documented as such in docs/loadgen.md, and each is a
// flag.
import { mulberry32 } from '../simulator/rng.js';

/** The typing model's knobs; times in ms. */
export interface TypingParams {
  /** Mean inter-key interval over all developers (Dhakal et al.: 238.66 ms). */
  ikiMeanMs: number;
  /** Spread of developers' own mean IKI (Dhakal et al.: SD 111.60 ms across participants). */
  ikiSdMs: number;
  /** Within one developer, the SD of keystroke intervals as a fraction of their mean (assumed 0.5). */
  ikiCv: number;
  /** Chance of a thinking pause after a keystroke inside a line (assumed 0.03). */
  pauseProb: number;
  /** Chance of a thinking pause after typing a newline (assumed 0.3). */
  linePauseProb: number;
  /** Mean length of a thinking pause, lognormal with SD equal to its mean (assumed 1500 ms). */
  pauseMeanMs: number;
}

export const TYPING_DEFAULTS: Readonly<TypingParams> = Object.freeze({
  ikiMeanMs: 238.66,
  ikiSdMs: 111.6,
  ikiCv: 0.5,
  pauseProb: 0.03,
  linePauseProb: 0.3,
  pauseMeanMs: 1500,
});

/** Bounds that keep a drawn developer or interval physical (and the timers sane). */
const MIN_DEVELOPER_MEAN_MS = 60;
const MAX_DEVELOPER_MEAN_MS = 3000;
const MIN_IKI_MS = 10;
const MAX_PAUSE_MS = 30_000;

/** A seeded source of uniform floats in [0, 1) and of the distributions the model needs. */
export class Random {
  readonly #next: () => number;
  #spare: number | undefined;

  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }

  float(): number {
    return this.#next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }

  /** A standard normal variate (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.#spare !== undefined) {
      const z = this.#spare;
      this.#spare = undefined;
      return z;
    }
    const u = 1 - this.#next(); // (0, 1]: log(0) never happens
    const v = this.#next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A lognormal variate with the given mean and standard deviation (of the variate itself). */
  lognormal(mean: number, sd: number): number {
    if (sd <= 0) return mean;
    const sigma2 = Math.log(1 + (sd * sd) / (mean * mean));
    const mu = Math.log(mean) - sigma2 / 2;
    return Math.exp(mu + Math.sqrt(sigma2) * this.normal());
  }

  /** A version-4-shaped UUID from this generator (reproducible ids for a seeded run). */
  uuid(): string {
    const hex = (n: number): string => {
      let s = '';
      for (let i = 0; i < n; i++) s += this.int(16).toString(16);
      return s;
    };
    return `${hex(8)}-${hex(4)}-4${hex(3)}-${(8 + this.int(4)).toString(16)}${hex(3)}-${hex(12)}`;
  }
}

/** One developer's typing rhythm: their own mean speed, drawn once, then a delay per keystroke. */
export class Typist {
  /** This developer's mean inter-key interval, ms. */
  readonly meanIkiMs: number;
  readonly #params: TypingParams;
  readonly #rng: Random;

  constructor(params: TypingParams, rng: Random) {
    this.#params = params;
    this.#rng = rng;
    this.meanIkiMs = clamp(
      rng.lognormal(params.ikiMeanMs, params.ikiSdMs),
      MIN_DEVELOPER_MEAN_MS,
      MAX_DEVELOPER_MEAN_MS,
    );
  }

  /** Milliseconds until the next key after typing `typed` (a thinking pause included, if one comes). */
  nextDelayMs(typed: string): number {
    const p = this.#params;
    const rng = this.#rng;
    let delay = Math.max(MIN_IKI_MS, rng.lognormal(this.meanIkiMs, this.meanIkiMs * p.ikiCv));
    const pauseChance = typed === '\n' ? p.linePauseProb : p.pauseProb;
    if (pauseChance > 0 && rng.float() < pauseChance) {
      delay += Math.min(MAX_PAUSE_MS, rng.lognormal(p.pauseMeanMs, p.pauseMeanMs));
    }
    return delay;
  }
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, v));
}
