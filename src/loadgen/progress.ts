import type { Recorder } from './recorder.js';
import { quantile } from './summary-stats.js';

/** How often the line is redrawn. */
const REDRAW_MS = 250;
const BAR_WIDTH = 20;

/** What one redraw shows. */
export interface ProgressState {
  elapsedS: number;
  durationS: number;
  /** Requests sent in the last full second. */
  rps: number;
  ttftP50: number | undefined;
  ttftP99: number | undefined;
  cancels: number;
  errors: number;
  draining: boolean;
}

/** One line: a bar of the duration, then the current rate and latency, cancels and errors. */
export function renderProgress(s: ProgressState): string {
  const done = Math.min(1, s.durationS > 0 ? s.elapsedS / s.durationS : 1);
  const filled = Math.round(done * BAR_WIDTH);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
  const ms = (v: number | undefined): string => (v === undefined ? '—' : v.toFixed(0));
  return (
    `${bar} ${s.elapsedS.toFixed(1).padStart(5)}/${s.durationS} s  ${s.draining ? 'draining ' : ''}` +
    `${String(s.rps).padStart(5)} req/s  first token p50 ${ms(s.ttftP50)} p99 ${ms(s.ttftP99)} ms  ` +
    `cancels ${s.cancels}  errors ${s.errors}`
  );
}

/** The live line on a terminal: redrawn in place ~4 times a second, erased when the run ends. */
export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #durationS: number;
  #timer: NodeJS.Timeout | undefined;
  #recorder: Recorder | undefined;
  #draining = false;

  constructor(out: NodeJS.WriteStream, durationS: number) {
    this.#out = out;
    this.#durationS = durationS;
  }

  start(recorder: Recorder): void {
    this.#recorder = recorder;
    this.#timer = setInterval(() => this.#draw(), REDRAW_MS);
    this.#timer.unref();
  }

  draining(): void {
    this.#draining = true;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#recorder !== undefined) this.#out.write('\r\x1b[2K');
  }

  #draw(): void {
    const r = this.#recorder;
    if (r === undefined) return;
    const elapsedS = (performance.now() - r.startedAt) / 1000;
    const current = Math.floor(elapsedS) - 1; // the last full second
    const last = current >= 0 ? r.buckets[current] : undefined;
    // Latency over the last two seconds: enough samples to be steady, recent enough to move.
    const recent = [...(r.buckets[current - 1]?.ttft ?? []), ...(last?.ttft ?? [])];
    const sorted = Float64Array.from(recent).sort();
    const line = renderProgress({
      elapsedS: Math.min(elapsedS, this.#durationS),
      durationS: this.#durationS,
      rps: last?.requests ?? 0,
      ttftP50: quantile(sorted, 0.5),
      ttftP99: quantile(sorted, 0.99),
      cancels: r.cancelled,
      errors: r.errorCount,
      draining: this.#draining,
    });
    const width = this.#out.columns > 0 ? this.#out.columns - 1 : 120;
    this.#out.write(`\r\x1b[2K${line.slice(0, width)}`);
  }
}
