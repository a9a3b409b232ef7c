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
    let cut = -1;
    for (const stop of this.#stops) {
      const i = s.indexOf(stop);
      if (i !== -1 && (cut === -1 || i < cut)) cut = i;
    }
    if (cut !== -1) {
      this.#stopped = true;
      this.#held = '';
      return s.slice(0, cut);
    }
    const keep = this.#partialMatchAtEnd(s);
    this.#held = keep === 0 ? '' : s.slice(s.length - keep);
    return keep === 0 ? s : s.slice(0, s.length - keep);
  }

  /** The choice ended upstream: text held back was not a stop after all. */
  flush(): string {
    const held = this.#held;
    this.#held = '';
    return this.#stopped ? '' : held;
  }

  /** Length of the longest end of `s` that begins some stop sequence. */
  #partialMatchAtEnd(s: string): number {
    for (let k = Math.min(this.#maxHold, s.length); k > 0; k--) {
      const tail = s.slice(s.length - k);
      for (const stop of this.#stops) if (stop.length > k && stop.startsWith(tail)) return k;
    }
    return 0;
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
