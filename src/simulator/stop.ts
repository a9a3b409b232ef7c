/**
 * Applies OpenAI `stop` semantics to a token stream: the emitted text never contains a stop
 * string. Text that could be the start of a stop string is held back until the next token
 * decides (a stop like "\n\n" can span two tokens). With `keep` the stop string itself is emitted
 * as the text's end, as TGI does.
 */
export class StopMatcher {
  readonly #stops: readonly string[];
  readonly #maxHold: number;
  readonly #keep: boolean;
  #held = '';
  #matched = '';

  constructor(stops: readonly string[], keep = false) {
    this.#stops = stops.filter((s) => s.length > 0);
    this.#maxHold = Math.max(0, ...this.#stops.map((s) => s.length - 1));
    this.#keep = keep;
  }

  /** The stop string that was reached; '' until one is. */
  get matched(): string {
    return this.#matched;
  }

  /** Feeds one token; returns the text safe to emit and whether a stop string was reached. */
  push(token: string): { text: string; stopped: boolean } {
    const buf = this.#held + token;
    let cut = -1;
    let matched = '';
    for (const stop of this.#stops) {
      const at = buf.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) {
        cut = at;
        matched = stop;
      }
    }
    if (cut >= 0) {
      this.#held = '';
      this.#matched = matched;
      return { text: buf.slice(0, this.#keep ? cut + matched.length : cut), stopped: true };
    }
    const hold = this.#partialStopLength(buf);
    this.#held = buf.slice(buf.length - hold);
    return { text: buf.slice(0, buf.length - hold), stopped: false };
  }

  /** Releases text held back as a possible stop prefix (the generation ended another way). */
  flush(): string {
    const held = this.#held;
    this.#held = '';
    return held;
  }

  /** Length of the longest tail of `buf` that is a proper prefix of some stop string. */
  #partialStopLength(buf: string): number {
    for (let k = Math.min(this.#maxHold, buf.length); k > 0; k--) {
      const tailText = buf.slice(buf.length - k);
      if (this.#stops.some((s) => s.startsWith(tailText))) return k;
    }
    return 0;
  }
}
