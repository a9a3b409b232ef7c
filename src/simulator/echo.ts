/** Longest and shortest tail of the text the generator tries to find earlier on (chars). */
export const MAX_MATCH = 32;
export const MIN_MATCH = 3;

/** A tail of the text that occurred earlier: how long it is and where it occurred. */
export interface Echo {
  length: number;
  /** Start offsets of its most recent earlier occurrences, newest first (at least one). */
  starts: number[];
}

const ZERO = 48;
const NINE = 57;

/**
 * The longest tail of `hay` (MIN_MATCH to MAX_MATCH chars) that also starts earlier in `hay`, with up
 * to `limit` of its most recent occurrences; undefined when no tail of MIN_MATCH chars recurs. Digits
 * compare equal, so "x3 = 3;" finds the earlier "x2 = 2;".
 *
 * Runs once per generated line, so it avoids building a digit-folded copy of the text and probing
 * it with many lastIndexOf calls. Only tails of MIN_MATCH chars or more count, so it visits just the
 * places where the tail's last MIN_MATCH chars recur (found with a native forward indexOf of their
 * digit-free part, which V8 runs far faster than a backward search) and, newest first, measures how
 * far the text before each agrees with the tail. Equivalent to taking the longest L whose folded
 * tail occurs before the tail's own start, then that tail's earlier occurrences, newest first.
 */
export function findEcho(hay: string, limit: number): Echo | undefined {
  const n = hay.length;
  const cap = Math.min(MAX_MATCH, n - 1);
  if (cap < MIN_MATCH) return undefined;
  let best = 0;
  let ends: number[] = [];
  const visit = (end: number, known: number): boolean => {
    let length = known;
    while (
      length < cap &&
      length <= end &&
      fold(hay.charCodeAt(end - length)) === fold(hay.charCodeAt(n - 1 - length))
    ) {
      length++;
    }
    if (length > best) {
      best = length;
      ends = [end];
    } else if (length === best && ends.length < limit) {
      ends.push(end);
    }
    return best === cap && ends.length >= limit; // nothing older can be longer or newer
  };

  // The longest digit-free part of the last MIN_MATCH chars is the key searched for natively;
  // digits before it are compared folded, like the rest of the match.
  let keyLength = 0;
  while (keyLength < MIN_MATCH && !isDigit(hay.charCodeAt(n - 1 - keyLength))) keyLength++;
  if (keyLength > 0) {
    const key = hay.slice(n - keyLength);
    // An occurrence ending at `end` starts before the tail does exactly when end <= n - 2.
    const lastStart = n - 1 - keyLength;
    const keyStarts: number[] = [];
    for (let at = hay.indexOf(key); at >= 0 && at <= lastStart; at = hay.indexOf(key, at + 1)) {
      keyStarts.push(at);
    }
    for (let i = keyStarts.length - 1; i >= 0; i--) {
      if (visit((keyStarts[i] ?? 0) + keyLength - 1, keyLength)) break;
    }
  } else {
    // The tail ends in a digit, which any digit matches: walk back over the digits.
    for (let end = n - 2; end >= 0; end--) {
      if (isDigit(hay.charCodeAt(end)) && visit(end, 1)) break;
    }
  }
  if (best < MIN_MATCH) return undefined;
  return { length: best, starts: ends.map((end) => end - best + 1) };
}

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}

function fold(code: number): number {
  return code >= ZERO && code <= NINE ? ZERO : code;
}
