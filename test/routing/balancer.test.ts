import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cost, powerOfTwo, type LoadInfo } from '../../src/routing/balancer.js';

const node = (name: string, o: Partial<LoadInfo> = {}): LoadInfo & { name: string } => ({
  name,
  outstanding: 0,
  capacity: 10,
  weight: 1,
  ttfbMs: 50,
  ...o,
});

/** A random source that returns the given values in turn. */
function seq(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

/** A small seeded generator: the same draws on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('balancer: power of two choices', () => {
  it('cost grows with time to first byte and with batch occupancy, and shrinks with weight', () => {
    assert.ok(cost(node('a', { ttfbMs: 10 })) < cost(node('b', { ttfbMs: 100 })));
    assert.ok(cost(node('a', { outstanding: 2 })) < cost(node('b', { outstanding: 8 })));
    // Occupancy is relative to capacity: 8 of 64 is lighter than 4 of 8.
    assert.ok(
      cost(node('a', { outstanding: 8, capacity: 64 })) < cost(node('b', { outstanding: 4, capacity: 8 })),
    );
    assert.ok(cost(node('a', { weight: 3 })) < cost(node('b', { weight: 1 })));
  });

  it('of the two drawn, the one with the lower EWMA wins', () => {
    const fast = node('fast', { ttfbMs: 10 });
    const slow = node('slow', { ttfbMs: 200 });
    // Draw slow first (r=0.9 → index 1), then the only other: fast.
    assert.equal(powerOfTwo([fast, slow], seq(0.9, 0.1))?.name, 'fast');
    assert.equal(powerOfTwo([fast, slow], seq(0.1, 0.9))?.name, 'fast');
  });

  it('a fast deployment whose batch is nearly full loses to an idle one of similar speed', () => {
    const busy = node('busy', { ttfbMs: 40, outstanding: 9 });
    const idle = node('idle', { ttfbMs: 50, outstanding: 0 });
    assert.equal(powerOfTwo([busy, idle], seq(0.1, 0.5))?.name, 'idle');
  });

  it('only the two drawn candidates are compared: the third, best one is not seen', () => {
    const a = node('a', { ttfbMs: 100 });
    const b = node('b', { ttfbMs: 90 });
    const c = node('c', { ttfbMs: 1 });
    // r=0.1 → a (of total 3), then r=0.1 of the remaining weight 2 → b.
    assert.equal(powerOfTwo([a, b, c], seq(0.1, 0.1))?.name, 'b');
  });

  it('candidates are drawn in proportion to weight', () => {
    const heavy = node('heavy', { weight: 9 });
    const light = node('light', { weight: 1 });
    // Equal cost apart from weight, so the heavier always wins the comparison as well.
    const rnd = mulberry32(42);
    const counts = { heavy: 0, light: 0 };
    for (let i = 0; i < 1000; i++) counts[powerOfTwo([heavy, light], rnd)?.name as 'heavy' | 'light']++;
    assert.equal(counts.light, 0, 'with two nodes both are drawn; the weighted cost decides');
    // With three, the light pair is drawn 2 × 1/11 × 1/10 ≈ 1.8% of the time.
    const l2 = node('l2', { weight: 1 });
    let lightPairs = 0;
    for (let i = 0; i < 1000; i++) if (powerOfTwo([heavy, light, l2], rnd)?.name !== 'heavy') lightPairs++;
    assert.ok(lightPairs > 5 && lightPairs < 40, `light pair won ${lightPairs} of 1000`);
  });

  it('one candidate is returned as is; none gives undefined', () => {
    const only = node('only');
    assert.equal(powerOfTwo([only], seq(0.5)), only);
    assert.equal(powerOfTwo([], seq(0.5)), undefined);
  });
});
