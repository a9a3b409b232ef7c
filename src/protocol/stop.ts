/**
 * The gateway's own `stop` handling for one choice, as a safety net under model servers that
 * ignore or mishandle stop sequences: text passes through as it arrives, except a tail that could
 * be the start of a stop sequence, which waits for the next piece (so a stop split over two
 * chunks still stops). On a match, the text before it is released and the choice is over.
 */
export class StopFilter {
  readonly #stops: readonly string[];
  /** Longest stop minus one: more held-back text could never be part of a match. */
  readonly #maxHold: number;
  #held = '';
  #stopped = false;

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
    this.#maxHold = Math.max(0, ...this.#stops.map((s) => s.length - 1));
  }

  /** True once a stop sequence was found: the choice has ended. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Takes the next piece of text; returns what may be sent now (before any stop sequence). */
  push(text: string): string {
    if (this.#stopped) return '';
    const s = this.#held.length === 0 ? text : this.#held + text;
    const match = this.#firstMatch(s);
    // A stop that may still complete, starting before the match, would be the earlier one: wait.
    const open = this.#firstOpenStart(s);
    if (match !== -1 && (open === -1 || match <= open)) {
      this.#stopped = true;
      this.#held = '';
      return s.slice(0, match);
    }
    const keep = open === -1 ? s.length : open;
    this.#held = s.slice(keep);
    return s.slice(0, keep);
  }

  /** The choice ended upstream: held text is sent, up to a stop it may contain. */
  flush(): string {
    const held = this.#held;
    this.#held = '';
    if (this.#stopped) return '';
    const match = this.#firstMatch(held);
    if (match === -1) return held;
    this.#stopped = true;
    return held.slice(0, match);
  }

  /** Where the earliest complete stop sequence in `s` begins, or -1. */
  #firstMatch(s: string): number {
    let at = -1;
    for (const stop of this.#stops) {
      const i = s.indexOf(stop);
      if (i !== -1 && (at === -1 || i < at)) at = i;
    }
    return at;
  }

  /** Where the earliest end of `s` that begins some stop sequence (and is shorter than it) starts, or -1. */
  #firstOpenStart(s: string): number {
    for (let j = Math.max(0, s.length - this.#maxHold); j < s.length; j++) {
      const tail = s.slice(j);
      for (const stop of this.#stops) if (stop.length > tail.length && stop.startsWith(tail)) return j;
    }
    return -1;
  }
}

/**
 * Stop sequences watched without holding anything back, for answers that pass through untouched:
 * `scan` returns where in this piece the text must be cut (-1: nowhere). A stop split over two
 * pieces is still found; its beginning, already sent with the earlier piece, cannot be taken back
 * (for the usual stops, "\n\n\n" or "\n```", that is whitespace or a fence's first characters).
 */
export class StopScanner {
  readonly #stops: readonly string[];
  readonly #keep: number;
  #tail = '';

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
    this.#keep = Math.max(0, ...this.#stops.map((s) => s.length - 1));
  }

  scan(text: string): number {
    const s = this.#tail.length === 0 ? text : this.#tail + text;
    let at = -1;
    for (const stop of this.#stops) {
      const i = s.indexOf(stop);
      if (i !== -1 && (at === -1 || i < at)) at = i;
    }
    if (at !== -1) return Math.max(0, at - this.#tail.length);
    this.#tail = this.#keep === 0 ? '' : s.length <= this.#keep ? s : s.slice(s.length - this.#keep);
    return -1;
  }
}
