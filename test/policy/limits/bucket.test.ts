// Pins down the token-bucket arithmetic every store shares (the Redis script repeats it in Lua):
// refill up to the capacity, waits, Retry-After rounding, and a clock that goes backwards.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FULL, msUntilFull, refill, retryAfterS, waitMs } from '../../../src/policy/limits/bucket.js';

const tenPerSecond = { ratePerMs: 0.01, capacity: 20 };

describe('token bucket arithmetic', () => {
  it('refills at the rate, never past the capacity; a never-used bucket is full', () => {
    assert.equal(refill(0, 1000, 1500, tenPerSecond), 5);
    assert.equal(refill(0, 1000, 10_000, tenPerSecond), 20);
    assert.equal(refill(FULL, 0, 1, tenPerSecond), 20);
    assert.equal(refill(-30, 0, 1000, tenPerSecond), -20, 'a token bucket in debt refills from below zero');
  });

  it('a clock that went back refills nothing (and takes nothing away)', () => {
    assert.equal(refill(3, 5000, 4000, tenPerSecond), 3);
  });

  it('waits: a request needs 1, a token bucket needs to be out of debt', () => {
    assert.equal(waitMs(1, 1, tenPerSecond), 0);
    assert.equal(waitMs(0.5, 1, tenPerSecond), 50);
    assert.equal(waitMs(0, 0, tenPerSecond), 0, 'at zero a token bucket is not in debt');
    assert.equal(waitMs(-250, 0, tenPerSecond), 25_000);
    assert.equal(msUntilFull(10, tenPerSecond), 1000);
    assert.equal(msUntilFull(20, tenPerSecond), 0);
  });

  it('Retry-After is whole seconds rounded up, never below 1', () => {
    assert.equal(retryAfterS(0), 1);
    assert.equal(retryAfterS(1), 1);
    assert.equal(retryAfterS(1000), 1);
    assert.equal(retryAfterS(1001), 2);
    assert.equal(retryAfterS(25_000), 25);
  });

  it('property: waiting the computed time is exactly enough', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1, noNaN: true }),
        fc.double({ min: 1e-6, max: 10, noNaN: true }),
        (level, ratePerMs) => {
          const spec = { ratePerMs, capacity: 1e9 };
          const w = waitMs(level, 1, spec);
          const after = refill(level, 0, w, spec);
          assert.ok(Math.abs(after - 1) < 1e-6 * Math.max(1, Math.abs(level)), `${after}`);
          if (w > 1e-3) assert.ok(refill(level, 0, w * 0.999, spec) < 1);
        },
      ),
    );
  });
});
