// Pins down the memory store (one instance's buckets) on a clock the test moves: burst then
// steady rate, all-or-nothing across scopes, token debt charged after the request, the cap on
// requests in flight, sku overrides, and the bound on memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimitsConfig } from '../../../src/policy/limits-schema.js';
import { MemoryLimitStore } from '../../../src/policy/limits/memory-store.js';
import { Plans, type Plan } from '../../../src/policy/limits/plan.js';
import type { Admitted, Verdict } from '../../../src/policy/limits/store.js';

function setup(limits: Record<string, unknown>, maxKeys = 100) {
  const cfg = RateLimitsConfig.parse(limits);
  const plans = new Plans(cfg);
  const clock = { now: 1_000_000 };
  const store = new MemoryLimitStore(maxKeys, () => clock.now);
  const plan = (sku = 'free'): Plan => {
    const p = plans.of(sku);
    assert.ok(p !== undefined);
    return p;
  };
  // null: no org (undefined would pick the default).
  const admit = (uid = 'u1', org: string | null = 'o1', sku = 'free'): Verdict =>
    store.admit({ uid, org: org ?? undefined, sku }, plan(sku), 0);
  return { store, clock, admit, plans };
}

const admitted = (v: Verdict): Admitted => {
  assert.ok(v.ok, `expected admitted, got ${JSON.stringify(v)}`);
  return v;
};

describe('memory limit store', () => {
  it('a burst of `burst` at once, then one per 1/rate; the wait is exact', () => {
    const { admit, clock } = setup({ user: { requestsPerSecond: 2, burst: 5 } });
    for (let i = 0; i < 5; i++) admitted(admit());
    const refused = admit();
    assert.deepEqual(refused, { ok: false, scope: 'user', kind: 'requests', waitMs: 500 });
    clock.now += 499;
    assert.equal(admit().ok, false);
    clock.now += 1;
    admitted(admit());
    clock.now += 60_000; // a long quiet spell refills to the burst, not beyond
    for (let i = 0; i < 5; i++) admitted(admit());
    assert.equal(admit().ok, false);
  });

  it('fractional rates: 0.5/s is one request every two seconds, burst defaults to 1', () => {
    const { admit, clock } = setup({ user: { requestsPerSecond: 0.5 } });
    admitted(admit());
    const r = admit();
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.waitMs, 2000);
    clock.now += 1000;
    const half = admit();
    assert.equal(!half.ok && half.waitMs, 1000);
    clock.now += 1000;
    admitted(admit());
  });

  it('a refused request takes nothing: the org bucket refusing leaves the user bucket as it was', () => {
    const { admit, clock } = setup({
      user: { requestsPerSecond: 10, burst: 2 },
      org: { requestsPerSecond: 1 },
    });
    admitted(admit('u1'));
    const r = admit('u1');
    assert.equal(!r.ok && r.scope, 'org');
    // u1 still has one request of its burst left: the refusal did not take it.
    clock.now += 1000;
    admitted(admit('u1'));
    assert.equal(admit('u2', 'o2').ok, true, 'another org is not affected');
  });

  it('the longest wait wins, and says whose bucket', () => {
    const { admit } = setup({ user: { requestsPerSecond: 1 }, sku: { requestsPerSecond: 0.1 } });
    admitted(admit());
    const r = admit();
    assert.deepEqual(r, { ok: false, scope: 'sku', kind: 'requests', waitMs: 10_000 });
  });

  it('tokens per minute: admitted while not in debt, charged after, one request may overdraw', () => {
    const { admit, clock } = setup({ user: { tokensPerMinute: 600 } }); // 10 per second
    admitted(admit()).settle(500);
    admitted(admit()).settle(300); // 100 left before: admitted, now 200 in debt
    const r = admit();
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.kind, 'tokens');
    assert.equal(!r.ok && r.waitMs, 20_000);
    clock.now += 20_000;
    admitted(admit()).settle(0);
    clock.now += 10 * 60_000;
    admitted(admit()).settle(601); // refills to a minute's worth, not more
    const debt = admit();
    assert.equal(!debt.ok && debt.waitMs, 100);
  });

  it('concurrent: at most N in flight per user; settling frees a slot; other users unaffected', () => {
    const { admit } = setup({ user: { concurrent: 2 } });
    const a = admitted(admit());
    admitted(admit());
    const r = admit();
    assert.deepEqual(r, { ok: false, scope: 'user', kind: 'concurrent', waitMs: 1000 });
    admitted(admit('u2'));
    a.settle(0);
    admitted(admit());
    assert.equal(admit().ok, false);
  });

  it('a clock that goes backwards refills nothing and takes nothing', () => {
    const { admit, clock } = setup({ user: { requestsPerSecond: 1, burst: 1 } });
    admitted(admit());
    clock.now -= 5000;
    assert.equal(admit().ok, false);
    clock.now += 6000;
    admitted(admit());
  });

  it('sku overrides: field by field, the rate/burst pair replaced together', () => {
    const { admit } = setup({
      user: { requestsPerSecond: 100, burst: 100, concurrent: 50 },
      skus: { free: { user: { requestsPerSecond: 1 } } },
    });
    admitted(admit('u1', null, 'free'));
    assert.equal(admit('u1', null, 'free').ok, false, 'free: burst is 1, not the default 100');
    for (let i = 0; i < 50; i++) admitted(admit('u2', null, 'business'));
    const r = admit('u2', null, 'business');
    assert.equal(!r.ok && r.kind, 'concurrent', 'business keeps the default concurrent cap');
  });

  it('no identity org: the org bucket does not apply', () => {
    const { admit } = setup({ org: { requestsPerSecond: 1 } });
    for (let i = 0; i < 10; i++) admitted(admit('u1', null));
  });

  it('memory is bounded: past maxKeys idle buckets go first, never one with requests in flight', () => {
    const { admit, store, clock } = setup(
      { user: { requestsPerSecond: 100, burst: 100, concurrent: 5 } },
      100,
    );
    const held = admitted(admit('holder'));
    for (let i = 0; i < 99; i++) admitted(admit(`u${i}`)).settle(0);
    clock.now += 2000; // every bucket refilled: all idle but the holder's
    admitted(admit('new')).settle(0);
    assert.ok(store.sizes.users <= 100);
    assert.ok(store.sizes.users < 10, `idle buckets dropped, got ${store.sizes.users}`);
    // The holder's entity survived: its slot still counts.
    for (let i = 0; i < 4; i++) admitted(admit('holder'));
    assert.equal(admit('holder').ok, false);
    held.settle(0);
  });
});
