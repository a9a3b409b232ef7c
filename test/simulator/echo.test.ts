import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findEcho, MAX_MATCH, MIN_MATCH } from '../../src/simulator/echo.js';

/** The definition findEcho must match: the longest folded tail found by lastIndexOf, then older ones. */
function reference(hay: string, limit: number): { length: number; starts: number[] } | undefined {
  const folded = hay.replace(/[0-9]/g, '0');
  let length = 0;
  for (let l = MIN_MATCH; l <= Math.min(MAX_MATCH, folded.length - 1); l++) {
    if (folded.lastIndexOf(folded.slice(folded.length - l), folded.length - l - 1) >= 0) length = l;
  }
  if (length === 0) return undefined;
  const needle = folded.slice(folded.length - length);
  const starts: number[] = [];
  for (let at = folded.length - length - 1; starts.length < limit && at >= 0; at--) {
    at = folded.lastIndexOf(needle, at);
    if (at < 0) break;
    starts.push(at);
  }
  return { length, starts };
}

test('finds the longest earlier tail, digits compared as equal, newest occurrences first', () => {
  assert.deepEqual(findEcho('const x1 = 1;\nconst x2 = 2;\n', 4), { length: 14, starts: [0] });
  assert.deepEqual(findEcho('ab;\nab;\nab;\n', 4), { length: 8, starts: [0] });
  assert.deepEqual(findEcho('xyz xyz xyz', 2), { length: 7, starts: [0] });
  assert.deepEqual(findEcho('a=1;\nb=2;\nc=3;\n', 4), { length: 4, starts: [6, 1] });
  assert.equal(findEcho('abcdef', 4), undefined, 'no tail of three characters recurs');
  assert.equal(findEcho('ab', 4), undefined);
  assert.equal(findEcho('', 4), undefined);
});

test('agrees with the lastIndexOf definition on random text', () => {
  // Pins down: the one-pass search replaced a binary search over lastIndexOf; generated text must not change.
  let seed = 1;
  const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const alphabets = ['ab', 'ab1', 'a1 \n', 'x;2\n ', '0123456789', 'aaaa\n', 'ab\u{1F600}'];
  for (let i = 0; i < 20_000; i++) {
    const alphabet = alphabets[i % alphabets.length] ?? 'ab';
    let hay = '';
    const length = Math.floor(random() * (i % 10 === 0 ? 300 : 50));
    for (let k = 0; k < length; k++) hay += alphabet[Math.floor(random() * alphabet.length)] ?? '';
    const limit = 1 + (i % 4);
    assert.deepEqual(findEcho(hay, limit), reference(hay, limit), JSON.stringify(hay));
  }
});
