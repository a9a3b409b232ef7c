import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlidingWindow } from '../../src/routing/sliding-window.js';

describe('sliding window', () => {
  it('counts requests and failures within the window', () => {
    const w = new SlidingWindow(1000); // ten 100 ms buckets
    w.record(false, 0);
    w.record(true, 50);
    w.record(true, 950);
    assert.deepEqual(w.counts(999), { total: 3, failed: 2 });
  });

  it('old buckets age out one at a time as time passes over them', () => {
    const w = new SlidingWindow(1000);
    w.record(true, 0); // bucket 0
    w.record(false, 450); // bucket 4
    assert.deepEqual(w.counts(999), { total: 2, failed: 1 });
    assert.deepEqual(w.counts(1000), { total: 1, failed: 0 }, 'bucket 0 is reused for 1000-1099');
    assert.deepEqual(w.counts(1450), { total: 0, failed: 0 });
  });

  it('a gap longer than the window clears everything, and recording resumes cleanly', () => {
    const w = new SlidingWindow(1000);
    for (let t = 0; t < 1000; t += 100) w.record(true, t);
    assert.deepEqual(w.counts(999), { total: 10, failed: 10 });
    w.record(false, 60_000);
    assert.deepEqual(w.counts(60_000), { total: 1, failed: 0 });
  });

  it('reset empties the window without moving it', () => {
    const w = new SlidingWindow(1000);
    w.record(true, 100);
    w.reset();
    assert.deepEqual(w.counts(100), { total: 0, failed: 0 });
    w.record(true, 150);
    assert.deepEqual(w.counts(150), { total: 1, failed: 1 });
  });

  it('a window shorter than its ten buckets still keeps 1 ms buckets', () => {
    const w = new SlidingWindow(5);
    w.record(true, 0);
    assert.deepEqual(w.counts(9), { total: 1, failed: 1 });
    assert.deepEqual(w.counts(10), { total: 0, failed: 0 });
  });
});
