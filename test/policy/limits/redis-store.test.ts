// Pins down the Redis store's Lua script against a real redis-server: the same bucket arithmetic
// as the memory store (burst, exact waits, refill cap, fractional rates, all-or-nothing across
// scopes, token debt), settles that ride on the next check, and keys that expire once full.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RateLimitsConfig } from '../../../src/policy/limits-schema.js';
import { Plans, type Plan } from '../../../src/policy/limits/plan.js';
import { RedisLimitStore } from '../../../src/policy/limits/redis-store.js';
import type { Admitted, LimitSubject, Verdict } from '../../../src/policy/limits/store.js';
import { sleep } from '../../helpers/clients.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

describe('Redis limit store: the script against a real redis-server', () => {
  let redis: RedisServer;
  let admin: Redis;
  const stores: RedisLimitStore[] = [];
  let prefixes = 0;

  async function store(): Promise<RedisLimitStore> {
    const s = new RedisLimitStore({
      url: redis.url,
      keyPrefix: `t${prefixes++}`,
      timeoutMs: 1000,
      failOpen: true,
      logIntervalMs: 60_000,
    });
    stores.push(s);
    await s.start();
    assert.ok(s.connected);
    return s;
  }
  const plan = (limits: Record<string, unknown>): Plan =>
    new Plans(RateLimitsConfig.parse(limits)).of('free') as Plan;
  const who = (uid: string, org?: string): LimitSubject => ({ uid, org, sku: 'free' });
  const admitted = (v: Verdict): Admitted => {
    assert.ok(v.ok && v.checked, `expected admitted and checked, got ${JSON.stringify(v)}`);
    return v;
  };

  before(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  after(async () => {
    for (const s of stores) await s.close();
    admin.disconnect();
    await redis.stop();
  });

  it('burst, then a refusal with the exact wait; fractional rate', async () => {
    const s = await store();
    const p = plan({ user: { requestsPerSecond: 0.5, burst: 3 } });
    for (let i = 0; i < 3; i++) admitted(await s.admit(who('a'), p, 0));
    const r = await s.admit(who('a'), p, 0);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.scope === 'user' && r.kind === 'requests');
    // 0.5/s: 2000 ms for the next, less the few ms since the third took the last one.
    assert.ok(!r.ok && r.waitMs > 1900 && r.waitMs <= 2000, JSON.stringify(r));
  });

  it('refill never passes the burst', async () => {
    const s = await store();
    const p = plan({ user: { requestsPerSecond: 50, burst: 2 } });
    admitted(await s.admit(who('b'), p, 0));
    await sleep(200); // 10 requests' worth of refill, capped at 2
    admitted(await s.admit(who('b'), p, 0));
    admitted(await s.admit(who('b'), p, 0));
    assert.equal((await s.admit(who('b'), p, 0)).ok, false);
  });

  it('all or nothing: the org refusing takes nothing from the user', async () => {
    const s = await store();
    const p = plan({
      user: { requestsPerSecond: 0.01, burst: 2 },
      org: { requestsPerSecond: 0.01, burst: 1 },
    });
    admitted(await s.admit(who('c1', 'acme'), p, 0));
    const r = await s.admit(who('c1', 'acme'), p, 0);
    assert.ok(!r.ok && r.scope === 'org', JSON.stringify(r));
    // c1's user bucket still holds one: another org admits it.
    admitted(await s.admit(who('c1', 'other'), p, 0));
  });

  it('token debt: charged on settle (riding on the next check), refused until paid back', async () => {
    const s = await store();
    const p = plan({ user: { tokensPerMinute: 600 } }); // 10 per second
    admitted(await s.admit(who('d'), p, 0)).settle(650);
    // The charge rides on this check: the script applies it before it looks.
    const r = await s.admit(who('d'), p, 0);
    assert.ok(!r.ok && r.kind === 'tokens', JSON.stringify(r));
    assert.ok(!r.ok && r.waitMs > 4900 && r.waitMs <= 5000, JSON.stringify(r));
  });

  it('slots: the cap holds, a settle frees one, a lease that ran out frees itself', async () => {
    const s = await store();
    const p = plan({ user: { concurrent: 2 } });
    const a = admitted(await s.admit(who('e'), p, 60_000));
    admitted(await s.admit(who('e'), p, 300)); // a short lease: as if its instance died
    const r = await s.admit(who('e'), p, 60_000);
    assert.ok(!r.ok && r.kind === 'concurrent', JSON.stringify(r));
    a.settle(0);
    admitted(await s.admit(who('e'), p, 60_000));
    assert.equal((await s.admit(who('e'), p, 60_000)).ok, false);
    await sleep(350);
    admitted(await s.admit(who('e'), p, 60_000));
  });

  it('keys expire once their buckets would be full again', async () => {
    const s = await store();
    const p = plan({ user: { requestsPerSecond: 10, burst: 5 } });
    admitted(await s.admit(who('f'), p, 0));
    const ttl = await admin.pttl(`t${prefixes - 1}:u:f`);
    // 0.1 s to refill one request, plus a second of margin.
    assert.ok(ttl > 900 && ttl <= 1100, String(ttl));
  });
});
