/**
 * Token-bucket arithmetic, shared by the memory store and (as the same formulas in Lua) the
 * Redis script. A bucket is two numbers, a level and the time it was read; its level refills
 * continuously at `ratePerMs` up to `capacity`. Nothing runs between requests: the level at any
 * time is computed from the last one, so a bucket nobody touches costs nothing, and a bucket
 * that has refilled to its capacity is the same as one never created.
 */

/** A bucket's shape: how fast it refills and how much it holds. */
export interface BucketSpec {
  /** Units (requests, tokens) added per millisecond. */
  readonly ratePerMs: number;
  /** The most it holds: a request bucket's burst, a token bucket's minute of tokens. */
  readonly capacity: number;
}

/** A level that stands for "never used": it refills to any capacity at once. */
export const FULL = Infinity;

/** The level at `now` of a bucket that was at `level` at `at` (times in ms; a clock that went back refills nothing). */
export function refill(level: number, at: number, now: number, spec: BucketSpec): number {
  const elapsed = now > at ? now - at : 0;
  const next = level + elapsed * spec.ratePerMs;
  return next < spec.capacity ? next : spec.capacity;
}

/**
 * Milliseconds until a bucket at `level` holds `need` (0 when it already does). A request needs
 * 1 from its request bucket; a token bucket needs 0 (it admits while not in debt).
 */
export function waitMs(level: number, need: number, spec: BucketSpec): number {
  return level >= need ? 0 : (need - level) / spec.ratePerMs;
}

/** Milliseconds until a bucket at `level` is full again, when it may be forgotten. */
export function msUntilFull(level: number, spec: BucketSpec): number {
  return level >= spec.capacity ? 0 : (spec.capacity - level) / spec.ratePerMs;
}

/** `Retry-After` for a wait: whole seconds, rounded up, at least 1 (0 would invite a retry storm). */
export function retryAfterS(waitMs: number): number {
  const s = Math.ceil(waitMs / 1000);
  return s >= 1 ? s : 1;
}
