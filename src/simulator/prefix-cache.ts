import { fnv1a32 } from './rng.js';

/**
 * The model server's automatic prefix cache, simplified (vLLM's keeps KV blocks by a hash chain of
 * token blocks; here one entry per prompt prefix): a prompt whose first `prefixChars` characters
 * were prefilled recently finds them cached. Least recently used entries are evicted, so memory is
 * bounded by `entries` numbers whatever the traffic.
 *
 * Keys are a 32-bit hash, not the text: a false hit needs a collision with one of at most `entries`
 * keys (about 1 in 4 million lookups at 1024), far below what a hit-rate measurement can see, and
 * a lookup costs one pass over at most `prefixChars` characters and no allocation.
 */
export class PrefixCache {
  readonly #entries: number;
  readonly #prefixChars: number;
  // A Set iterates in insertion order: delete + add moves a key to the newest end, and the first
  // key is the least recently used. Every operation is O(1).
  readonly #keys = new Set<number>();

  /** `entries` >= 1 (a disabled cache is no cache); `prefixChars` >= 1. */
  constructor(entries: number, prefixChars: number) {
    this.#entries = entries;
    this.#prefixChars = prefixChars;
  }

  get size(): number {
    return this.#keys.size;
  }

  /**
   * One prefill's lookup: true if the prompt's prefix is cached (it becomes the most recently
   * used); false if not, and then it is cached, evicting the least recently used entry if full.
   */
  lookup(prompt: string): boolean {
    const key = fnv1a32(prompt, undefined, this.#prefixChars);
    const keys = this.#keys;
    if (keys.delete(key)) {
      keys.add(key);
      return true;
    }
    if (keys.size >= this.#entries) {
      const oldest = keys.values().next();
      if (oldest.done !== true) keys.delete(oldest.value);
    }
    keys.add(key);
    return false;
  }
}
