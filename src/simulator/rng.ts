/**
 * 32-bit FNV-1a of a string, or of its first `chars` characters (no slice: a prefix key costs no
 * copy): a cheap, stable seed for "same prompt, same text".
 */
export function fnv1a32(text: string, seed = 0x811c9dc5, chars = text.length): number {
  let h = seed >>> 0;
  const end = Math.min(chars, text.length);
  for (let i = 0; i < end; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a tiny deterministic PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
