import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ewma } from '../../src/routing/ewma.js';

describe('ewma', () => {
  it('starts at the initial value, then the first samples are averaged plainly', () => {
    const e = new Ewma(10_000, 50);
    assert.equal(e.value, 50);
    e.add(100, 0);
    assert.equal(e.value, 100);
    e.add(10, 0);
    assert.equal(e.value, 55, 'two samples at once: their mean, not 100 forever');
  });

  it('old samples decay with time: after many decay periods the recent value dominates', () => {
    const e = new Ewma(1000, 10);
    for (let i = 0; i < 2000; i++) e.add(100, i);
    for (let t = 0; t < 5; t++) e.add(10, 2000 + (t + 1) * 1000);
    assert.ok(e.value < 12, `value ${e.value}`);
  });

  it('without samples the value drifts back to the prior, so a deployment once seen as slow is tried again', () => {
    const e = new Ewma(10_000, 50);
    e.add(19_000, 0); // a deadline hit while it was down
    assert.equal(e.valueAt(0), 19_000);
    assert.ok(e.valueAt(10_000) < 19_000 * 0.4, 'one decay time: most of the way back');
    assert.ok(e.valueAt(60_000) < 100, `after six: ${e.valueAt(60_000)}`);
  });

  it('at a high rate one sample moves the average only a little', () => {
    const e = new Ewma(10_000, 50);
    for (let i = 0; i < 5000; i++) e.add(20, i * 0.5);
    const before = e.value;
    e.add(2000, 2500.5);
    assert.ok(e.value - before < 1, `one outlier moved it by ${e.value - before}`);
  });
});
