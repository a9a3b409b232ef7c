import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetryBudget } from '../../src/routing/retry-budget.js';

describe('retry budget', () => {
  it('allows the floor on a quiet gateway, then a share of requests', () => {
    const b = new RetryBudget(0.1, 1); // floor: 1/s over 10 s = 10 retries
    let allowed = 0;
    for (let i = 0; i < 20; i++) if (b.tryRetry(i)) allowed++;
    assert.equal(allowed, 10);
    for (let i = 0; i < 100; i++) b.onRequest(100 + i);
    assert.equal(b.tryRetry(300), true, '100 requests add 10 retries');
    let more = 1;
    while (more < 1000 && b.tryRetry(300)) more++;
    assert.equal(more, 10);
    assert.equal(b.refusedTotal, 11);
  });

  it('the window slides: spent retries come back after 10 s', () => {
    const b = new RetryBudget(0, 0.5); // 5 per 10 s
    let n = 0;
    while (n < 1000 && b.tryRetry(0)) n++;
    assert.equal(n, 5);
    assert.equal(b.tryRetry(5000), false);
    assert.equal(b.tryRetry(11_000), true);
  });
});
