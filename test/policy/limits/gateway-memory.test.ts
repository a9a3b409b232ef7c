// Pins down rate limits over real HTTP/2 with the memory store: 429 with the right code and an
// exact Retry-After, burst then steady rate, the cap on requests in flight (a slot frees when a
// stream ends), tokens per minute charged from the streamed answer, no limit without an identity,
// and buckets that survive a config reload.
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import { startGateway, type Gateway } from '../../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../../src/simulator/index.js';
import { h2connect, sleep, sseEvents } from '../../helpers/clients.js';
import { AUTH, codeOf, complete, tokenFor } from './fixtures.js';

type Chunk = { choices?: { text?: string; finish_reason?: string | null }[] };
const carriesText = (e: unknown): boolean => {
  const c = (e as Chunk).choices?.[0];
  return c !== undefined && (c.finish_reason === null || c.finish_reason === undefined || c.text !== '');
};

describe('rate limits over sockets (memory store)', () => {
  let sim: Simulator;
  let slow: Simulator;
  const gateways: Gateway[] = [];
  const sessions: http2.ClientHttp2Session[] = [];

  const config = (limits: Record<string, unknown>, upstream = sim, policy: Record<string, unknown> = {}) =>
    validateConfig({
      listeners: [{ host: '127.0.0.1', port: 0 }],
      auth: AUTH,
      deployments: [{ name: 'sim', url: `h2c://127.0.0.1:${upstream.port}` }],
      models: [{ name: 'default', deployments: ['sim'] }],
      policy: { limits, ...policy },
    });
  async function gateway(limits: Record<string, unknown>, upstream = sim) {
    const gw = await startGateway(config(limits, upstream));
    gateways.push(gw);
    const session = await h2connect(gw.urls[0] as string);
    sessions.push(session);
    return { gw, session };
  }

  before(async () => {
    sim = await startSimulator({ ttftMs: 1, tokenMs: 0, maxTokens: 32 });
    // Streams that last ~1 s: still in flight when the next request comes.
    slow = await startSimulator({ ttftMs: 5, tokenMs: 25, maxTokens: 40, slots: 16 });
  });
  after(async () => {
    for (const s of sessions) s.close();
    for (const gw of gateways) await gw.close(100);
    await Promise.all([sim.close(), slow.close()]);
  });

  it('burst, then 429 GW_RATE_LIMITED with Retry-After; other users are not affected', async () => {
    const { gw, session } = await gateway({ user: { requestsPerSecond: 0.2, burst: 3 } });
    const alice = tokenFor('alice');
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await complete(session, alice));
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200, 429, 429],
    );
    const refused = results[3];
    assert.ok(refused !== undefined);
    assert.equal(codeOf(refused), 'GW_RATE_LIMITED');
    // 0.2/s: the next request is due 5 s after the third took the last one (less the ms since).
    assert.equal(refused.headers['retry-after'], '5');
    assert.match(refused.body, /this user's own/);
    assert.doesNotMatch(refused.body, /alice/, 'never says who');
    assert.equal((await complete(session, tokenFor('bob'))).status, 200);
    assert.equal(gw.policy.stats().limits.rateLimited.requests, 2);
    assert.equal(gw.policy.stats().limits.rateLimitedByScope.user, 2);
  });

  it('steady rate: 20/s with burst 1 admits about one per 50 ms over half a second', async () => {
    const { session } = await gateway({ user: { requestsPerSecond: 20, burst: 1 } });
    const token = tokenFor('carol');
    const started = performance.now();
    let ok = 0;
    let refused = 0;
    while (performance.now() - started < 500) {
      const r = await complete(session, token);
      if (r.status === 200) ok++;
      else {
        assert.equal(r.status, 429);
        assert.equal(r.headers['retry-after'], '1', 'a wait under a second rounds up to 1');
        refused++;
      }
    }
    const elapsedS = (performance.now() - started) / 1000;
    // 1 at once, then 20/s; the last request may end a little after the loop's clock.
    const expected = 1 + 20 * elapsedS;
    assert.ok(Math.abs(ok - expected) <= 2, `admitted ${ok}, expected ~${expected.toFixed(1)}`);
    assert.ok(refused > 0, 'the loop offered more than the limit');
  });

  it('org and sku buckets are shared by their users; the refusal names the scope', async () => {
    const { session } = await gateway({ org: { requestsPerSecond: 0.1, burst: 2 } });
    assert.equal((await complete(session, tokenFor('u1', { org: 'acme' }))).status, 200);
    assert.equal((await complete(session, tokenFor('u2', { org: 'acme' }))).status, 200);
    const r = await complete(session, tokenFor('u3', { org: 'acme' }));
    assert.equal(r.status, 429);
    assert.match(r.body, /organisation/);
    assert.equal(r.headers['retry-after'], '10');
    assert.equal((await complete(session, tokenFor('u4', { org: 'other' }))).status, 200);
    assert.equal((await complete(session, tokenFor('u5'))).status, 200, 'no org, no org limit');
  });

  it('concurrent: the third stream of a user is refused while two are open; an ended one frees its slot', async () => {
    const { gw, session } = await gateway({ user: { concurrent: 2 } }, slow);
    const token = tokenFor('dave');
    const first = complete(session, token);
    const second = complete(session, token);
    await sleep(100);
    const third = await complete(session, token);
    assert.equal(third.status, 429);
    assert.equal(codeOf(third), 'GW_TOO_MANY_IN_FLIGHT');
    assert.equal(third.headers['retry-after'], '1');
    assert.equal((await complete(session, tokenFor('erin'))).status, 200, 'another user');
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
    assert.equal((await complete(session, token)).status, 200, 'slots freed');
    assert.equal(gw.policy.stats().limits.rateLimited.concurrent, 1);
  });

  it('concurrent: a client that resets its stream frees its slot at once', async () => {
    const { session } = await gateway({ user: { concurrent: 1 } }, slow);
    const token = tokenFor('frank');
    const req = session.request({
      ':method': 'POST',
      ':path': '/v1/engines/default/completions',
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
    });
    req.end(JSON.stringify({ prompt: 'x', stream: true, max_tokens: 40 }));
    await new Promise((resolve) => req.once('response', resolve));
    assert.equal((await complete(session, token)).status, 429);
    req.close(0x8); // CANCEL
    await sleep(50);
    assert.equal((await complete(session, token)).status, 200);
  });

  it('tokens per minute: charged from the streamed answer; in debt, 429 GW_QUOTA_EXCEEDED with the wait', async () => {
    const { gw, session } = await gateway({ user: { tokensPerMinute: 60 } }); // one token per second
    const token = tokenFor('grace');
    const statuses: number[] = [];
    let spent = 0;
    let last;
    for (let i = 0; i < 4; i++) {
      last = await complete(session, token, { max_tokens: 25 });
      statuses.push(last.status);
      // The meter counts each streamed token (the simulator reports no usage): every event but
      // the one that only carries the finish reason, and [DONE].
      if (last.status === 200) spent += sseEvents(last.body).filter(carriesText).length;
    }
    assert.ok(last !== undefined);
    // 60, 60-n, 60-2n >= 0 are admitted (n ~ 26); the third one overdraws: the fourth is refused.
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.equal(codeOf(last), 'GW_QUOTA_EXCEEDED');
    const debt = spent - 60;
    assert.ok(debt > 0, `spent ${spent}`);
    // One token per second pays the debt back; the few ms since the charge may round it down.
    const retryAfter = Number(last.headers['retry-after']);
    assert.ok(
      retryAfter === debt || retryAfter === debt + 1 || retryAfter === debt - 1,
      `${retryAfter} s for a debt of ${debt}`,
    );
    assert.equal(gw.policy.stats().limits.rateLimited.tokens, 1);
  });

  it('tokens per minute, bytes passed through untouched: counted from the SSE events as they pass', async () => {
    const { session } = await gateway({ user: { tokensPerMinute: 60 } });
    const token = tokenFor('ivan');
    let spent = 0;
    let last;
    for (let i = 0; i < 4; i++) {
      // No stop sequence to enforce: the upstream's bytes go out untouched (PassThroughOut).
      last = await complete(session, token, { max_tokens: 25, stop: [] });
      if (last.status !== 200) break;
      // Undecoded, every event but [DONE] counts, the one that only ends the choice included.
      spent += sseEvents(last.body).filter((e) => e !== '[DONE]').length;
    }
    assert.ok(last !== undefined);
    assert.equal(last.status, 429);
    assert.equal(codeOf(last), 'GW_QUOTA_EXCEEDED');
    const debt = spent - 60;
    const retryAfter = Number(last.headers['retry-after']);
    assert.ok(Math.abs(retryAfter - debt) <= 1, `${retryAfter} s for a debt of ${debt}`);
  });

  it('requests without an identity are never limited (auth.mode none)', async () => {
    const gw = await startGateway(
      validateConfig({
        listeners: [{ host: '127.0.0.1', port: 0 }],
        auth: { mode: 'none' },
        deployments: [{ name: 'sim', url: `h2c://127.0.0.1:${sim.port}` }],
        models: [{ name: 'default', deployments: ['sim'] }],
        policy: { limits: { user: { requestsPerSecond: 0.1, burst: 1 } } },
      }),
    );
    gateways.push(gw);
    const session = await h2connect(gw.urls[0] as string);
    sessions.push(session);
    for (let i = 0; i < 3; i++) assert.equal((await complete(session, 'ignored')).status, 200);
  });

  it('a reload with the same limits keeps the buckets; one with other limits applies them', async () => {
    const limits = { user: { requestsPerSecond: 0.1, burst: 2 } };
    const { gw, session } = await gateway(limits);
    const token = tokenFor('heidi');
    assert.equal((await complete(session, token)).status, 200);
    assert.equal((await complete(session, token)).status, 200);
    assert.equal((await complete(session, token)).status, 429);
    const reloaded = await gw.reload(config(limits, sim, { supersession: { enabled: true } }));
    assert.ok(reloaded.applied.includes('policy'));
    assert.equal((await complete(session, token)).status, 429, 'the bucket was carried over, still empty');
    assert.equal(gw.policy.stats().limits.rateLimited.requests, 2, 'counters carried over too');
    await gw.reload(config({ user: { requestsPerSecond: 100, burst: 100 } }));
    await sleep(20); // the new rate refills the carried-over bucket: 1 request per 10 ms
    assert.equal((await complete(session, token)).status, 200, 'a higher limit applies at once');
  });
});
