// Pins down the Redis store against a real redis-server: two gateway instances enforce one
// combined limit; a Redis that dies or hangs never stalls or fails requests (fail-open), is
// logged once per interval, and is used again when it comes back; failOpen false answers 503;
// the concurrency cap and token quotas hold across instances; a reload keeps the connection;
// no key name carries a token.
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import type http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { validateConfig } from '../../../src/config/load.js';
import type { LimitsStoreMessage } from '../../../src/policy/limits/events.js';
import { startGateway, type Gateway } from '../../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../../src/simulator/index.js';
import { eventually, h2connect, sleep } from '../../helpers/clients.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { AUTH, codeOf, complete, tokenFor } from './fixtures.js';

describe('rate limits over sockets (Redis store, real redis-server)', () => {
  let redis: RedisServer;
  let sim: Simulator;
  let slow: Simulator;
  let admin: Redis;
  const gateways: Gateway[] = [];
  const sessions: http2.ClientHttp2Session[] = [];
  const messages: LimitsStoreMessage[] = [];
  const channel = diagnostics_channel.channel('ghostwire:policy:limits-store');
  const onMessage = (m: unknown): void => {
    messages.push(m as LimitsStoreMessage);
  };

  const config = (
    limits: Record<string, unknown>,
    opts: { upstream?: Simulator; redis?: Record<string, unknown>; policy?: Record<string, unknown> } = {},
  ) =>
    validateConfig({
      listeners: [{ host: '127.0.0.1', port: 0 }],
      auth: AUTH,
      deployments: [{ name: 'sim', url: `h2c://127.0.0.1:${(opts.upstream ?? sim).port}` }],
      models: [{ name: 'default', deployments: ['sim'] }],
      policy: {
        limits: { store: 'redis', redis: { url: redis.url, ...opts.redis }, ...limits },
        ...opts.policy,
      },
    });
  async function gateway(limits: Record<string, unknown>, opts: Parameters<typeof config>[1] = {}) {
    const gw = await startGateway(config(limits, opts));
    gateways.push(gw);
    const session = await h2connect(gw.urls[0] as string);
    sessions.push(session);
    return { gw, session };
  }

  before(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    sim = await startSimulator({ ttftMs: 1, tokenMs: 0, maxTokens: 32 });
    slow = await startSimulator({ ttftMs: 5, tokenMs: 25, maxTokens: 40, slots: 16 });
    channel.subscribe(onMessage);
  });
  after(async () => {
    channel.unsubscribe(onMessage);
    for (const s of sessions) s.close();
    for (const gw of gateways) await gw.close(100);
    admin.disconnect();
    await Promise.all([sim.close(), slow.close(), redis.stop()]);
  });

  it('two instances sharing Redis enforce one combined limit, within 5%', async (t) => {
    const limits = { keyPrefix: 'gwt:combined' };
    const user = { requestsPerSecond: 40, burst: 10 };
    const a = await gateway({ user }, { redis: limits });
    const b = await gateway({ user }, { redis: limits });
    const token = tokenFor('shared-user');
    // Load split across both instances, 2 clients each, for 2.5 s: far more than 40/s offered.
    const admitted = [0, 0];
    let refused = 0;
    const started = performance.now();
    const DURATION_MS = 2500;
    const client = async (i: number, session: http2.ClientHttp2Session) => {
      while (performance.now() - started < DURATION_MS) {
        const r = await complete(session, token, { max_tokens: 1 });
        if (r.status === 200) admitted[i]! += 1;
        else {
          assert.equal(codeOf(r), 'GW_RATE_LIMITED');
          refused++;
        }
      }
    };
    await Promise.all([0, 1].flatMap(() => [client(0, a.session), client(1, b.session)]));
    const elapsedS = (performance.now() - started) / 1000;
    const total = admitted[0]! + admitted[1]!;
    const expected = user.burst + user.requestsPerSecond * elapsedS;
    t.diagnostic(
      `admitted ${total} (${admitted.join(' + ')}) of ${total + refused}, expected ${expected.toFixed(1)}`,
    );
    assert.ok(
      Math.abs(total - expected) <= 0.05 * expected,
      `admitted ${total} (${admitted.join(' + ')}), expected ${expected.toFixed(1)} ± 5%; ${refused} refused`,
    );
    // Both instances took part: each alone would have admitted about `expected` by itself.
    assert.ok(admitted[0]! > 0.2 * expected && admitted[1]! > 0.2 * expected, admitted.join(' + '));
    assert.ok(refused > total, 'the offered load was well over the limit');
  });

  it('the concurrency cap and the token quota hold across instances', async () => {
    const redisCfg = { keyPrefix: 'gwt:across' };
    const a = await gateway({ user: { concurrent: 2 } }, { upstream: slow, redis: redisCfg });
    const b = await gateway({ user: { concurrent: 2 } }, { upstream: slow, redis: redisCfg });
    const token = tokenFor('two-editors');
    const first = complete(a.session, token);
    const second = complete(b.session, token);
    await sleep(100);
    const third = await complete(a.session, token);
    assert.equal(third.status, 429);
    assert.equal(codeOf(third), 'GW_TOO_MANY_IN_FLIGHT');
    assert.equal((await complete(b.session, token)).status, 429);
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
    // Releases ride on the next admission from the same instance, or go within 100 ms.
    await sleep(150);
    assert.equal((await complete(b.session, token)).status, 200, 'slots released');

    const q = await gateway({ user: { tokensPerMinute: 60 } }, { redis: { keyPrefix: 'gwt:quota' } });
    const r = await gateway({ user: { tokensPerMinute: 60 } }, { redis: { keyPrefix: 'gwt:quota' } });
    const t = tokenFor('quota-user');
    assert.equal((await complete(q.session, t, { max_tokens: 25 })).status, 200);
    assert.equal((await complete(q.session, t, { max_tokens: 25 })).status, 200);
    assert.equal((await complete(q.session, t, { max_tokens: 25 })).status, 200);
    await sleep(150); // the charges are flushed to Redis
    const refused = await complete(r.session, t, { max_tokens: 25 });
    assert.equal(refused.status, 429, 'the other instance sees the tokens charged on the first');
    assert.equal(codeOf(refused), 'GW_QUOTA_EXCEEDED');
    assert.ok(Number(refused.headers['retry-after']) >= 2);
  });

  it('key names carry the uid, org and sku, never a token', async () => {
    const keys = await admin.keys('*');
    assert.ok(keys.length > 0);
    for (const k of keys) {
      assert.doesNotMatch(k, /limits-test-secret|Bearer|tid=|;/, k);
      assert.ok(k.length < 200, k);
    }
    assert.ok(
      keys.some((k) => k === 'gwt:combined:u:shared-user'),
      keys.join(', '),
    );
  });

  it('Redis down: requests are admitted unchecked at once, logged once, checked again when it is back', async () => {
    const { gw, session } = await gateway(
      { user: { requestsPerSecond: 0.1, burst: 2 } },
      { redis: { keyPrefix: 'gwt:outage', logIntervalMs: 60_000 } },
    );
    const token = tokenFor('outage-user');
    assert.equal((await complete(session, token)).status, 200);
    assert.equal((await complete(session, token)).status, 200);
    assert.equal((await complete(session, token)).status, 429);
    messages.length = 0;
    await redis.kill();
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const r = await complete(session, token);
      assert.equal(r.status, 200, `fail-open: ${r.body}`);
      assert.ok(performance.now() - started < 500, 'never stalled by a dead Redis');
    }
    assert.equal(gw.policy.stats().limits.unchecked, 20);
    assert.equal(messages.filter((m) => m.type === 'unreachable').length, 1, 'one message, no storm');
    await redis.restart(); // empty: the buckets start full again
    await eventually(() => gw.policy.stats().limits.redis?.connected === true, 10_000);
    assert.equal((await complete(session, token)).status, 200);
    assert.equal((await complete(session, token)).status, 200);
    assert.equal(
      (await complete(session, token)).status,
      429,
      'checked again (the script reloaded: NOSCRIPT)',
    );
    const back = messages.find((m) => m.type === 'reachable');
    assert.ok(back !== undefined && back.unchecked === 20, JSON.stringify(messages));
  });

  it('failOpen false: 503 GW_RATE_LIMIT_UNAVAILABLE with Retry-After while Redis cannot be reached', async () => {
    const { gw, session } = await gateway(
      { user: { requestsPerSecond: 100 } },
      { redis: { url: 'redis://127.0.0.1:1', failOpen: false } },
    );
    const r = await complete(session, tokenFor('closed-user'));
    assert.equal(r.status, 503);
    assert.equal(codeOf(r), 'GW_RATE_LIMIT_UNAVAILABLE');
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(gw.policy.stats().limits.failedClosed, 1);
  });

  it('a hung Redis: the command timeout answers within timeoutMs (fail-open), never stalls the request', async () => {
    const { gw, session } = await gateway(
      { user: { requestsPerSecond: 1000 } },
      { redis: { keyPrefix: 'gwt:hang', timeoutMs: 50 } },
    );
    const token = tokenFor('hang-user');
    assert.equal((await complete(session, token)).status, 200);
    // A script that spins: Redis answers nobody until it is killed.
    await admin.config('SET', 'busy-reply-threshold', '200');
    const blocker = new Redis(redis.url, { maxRetriesPerRequest: 0 });
    blocker.on('error', () => {});
    const spinning = blocker.eval('while true do end', 0).catch(() => undefined);
    await sleep(20);
    try {
      const started = performance.now();
      const r = await complete(session, token);
      const tookMs = performance.now() - started;
      assert.equal(r.status, 200);
      // Redis stays blocked until the finally below: an answer at all proves nothing waited for it.
      assert.ok(tookMs < 1000, `took ${tookMs.toFixed(0)} ms`);
      assert.ok(gw.policy.stats().limits.unchecked >= 1);
    } finally {
      await sleep(250); // past busy-reply-threshold, SCRIPT KILL is served
      // On a connection opened before the spin: a new one could not pass its ready check.
      await admin.script('KILL').catch(() => undefined);
      await spinning;
      blocker.disconnect();
    }
    await eventually(
      async () =>
        (await complete(session, token)).status === 200 && gw.policy.stats().limits.redis?.connected === true,
      5000,
    );
  });

  it('a reload with the same Redis settings keeps the connection; closing the old policy does not close it', async () => {
    // Its own redis-server: gateways of the other tests reconnect to the shared one at any time.
    const own = await startRedis();
    const ownAdmin = new Redis(own.url);
    try {
      const limits = { user: { requestsPerSecond: 0.1, burst: 1 } };
      const redisCfg = { url: own.url, keyPrefix: 'gwt:reload' };
      const { gw, session } = await gateway(limits, { redis: redisCfg });
      const token = tokenFor('reload-user');
      assert.equal((await complete(session, token)).status, 200);
      const ids = async () =>
        String(await ownAdmin.client('LIST'))
          .split('\n')
          .filter((l) => l.includes('name=ghostwire-limits'))
          .map((l) => /id=(\d+)/.exec(l)?.[1]);
      const before = await ids();
      assert.equal(before.length, 1);
      await gw.reload(config(limits, { redis: redisCfg, policy: { supersession: { enabled: true } } }));
      await sleep(100); // the old generation has no request in flight: it closes now
      assert.equal((await complete(session, token)).status, 429, 'same bucket, same connection');
      assert.equal(gw.policy.stats().limits.redis?.connected, true);
      assert.deepEqual(await ids(), before, 'the same connection, still open');
      // Other Redis settings: a new connection for the new config, the old one closed.
      await gw.reload(config(limits, { redis: { ...redisCfg, timeoutMs: 80 } }));
      await sleep(100);
      const after = await ids();
      assert.equal(after.length, 1);
      assert.notDeepEqual(after, before);
    } finally {
      ownAdmin.disconnect();
      await own.stop();
    }
  });
});
