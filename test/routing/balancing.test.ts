import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, eventually, h2connect, h2request, type Received } from '../helpers/clients.js';
import { gatewayFor } from '../helpers/gateway.js';

const PATH = '/v1/engines/default/completions';

/** C workers sending completions back to back on one connection until `ms` has passed. */
async function closedLoop(
  session: http2.ClientHttp2Session,
  concurrency: number,
  ms: number,
  body = copilotBody({ max_tokens: 4 }),
): Promise<Received[]> {
  const until = performance.now() + ms;
  const out: Received[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < 10_000 && performance.now() < until; i++)
        out.push(await h2request(session, PATH, body));
    }),
  );
  return out;
}

/** Did the request fail before any completion byte reached the client? (200 + SSE error = cut mid-stream.) */
const failedBeforeStreaming = (r: Received): boolean => r.status !== 200;

describe('routing over real sockets', () => {
  it('three simulators of different speeds: the fast one gets most traffic, none gets more than its slots', async () => {
    // queueLimit 0: a simulator answers 503 to any request beyond its slots, and counts it as rejected.
    const speeds = [5, 25, 80];
    const sims = await Promise.all(
      speeds.map((ttftMs) => startSimulator({ ttftMs, tokenMs: 2, slots: 6, queueLimit: 0, maxTokens: 4 })),
    );
    const gw = await gatewayFor({
      deployments: sims.map((s, i) => ({
        name: `sim-${i}`,
        url: `h2c://127.0.0.1:${s.port}`,
        maxConcurrent: 6,
      })),
      models: [{ name: 'default', deployments: sims.map((_, i) => `sim-${i}`) }],
      // More requests than total slots: the gateway's queue holds the rest.
      routing: { queue: { maxWaiting: 100, maxWaitMs: 5000 }, retries: { enabled: false } },
    });
    const session = await h2connect(gw.urls[0] as string);
    try {
      const results = await closedLoop(session, 10, 1500);
      assert.equal(results.filter((r) => r.status !== 200).length, 0);
      const served = sims.map((s) => s.stats().requests);
      const total = served.reduce((a, b) => a + b, 0);
      assert.equal(total, results.length);
      for (const s of sims) assert.equal(s.stats().rejected, 0, 'no simulator was sent more than its slots');
      assert.ok(served[0]! > served[1]! && served[1]! > served[2]!, `served ${served.join('/')}`);
      assert.ok(served[0]! / total > 0.5, `fast share ${served[0]! / total}`);
    } finally {
      session.close();
      await gw.close(100);
      await Promise.all(sims.map((s) => s.close()));
    }
  });

  it('a simulator killed mid-load: no request that had not started streaming fails', async () => {
    const sims = await Promise.all(
      [0, 1, 2].map(() => startSimulator({ ttftMs: 20, tokenMs: 5, slots: 64, maxTokens: 6 })),
    );
    const gw = await gatewayFor({
      deployments: sims.map((s, i) => ({ name: `sim-${i}`, url: `h2c://127.0.0.1:${s.port}` })),
      models: [{ name: 'default', deployments: sims.map((_, i) => `sim-${i}`) }],
    });
    const session = await h2connect(gw.urls[0] as string);
    try {
      const load = closedLoop(session, 16, 1500, copilotBody({ max_tokens: 6 }));
      await new Promise((r) => setTimeout(r, 500));
      await sims[1]!.close(); // every connection cut, streams in flight included; new connects refused
      const results = await load;
      const before = results.filter(failedBeforeStreaming);
      assert.equal(before.length, 0, `failed before streaming: ${before[0]?.body}`);
      const cut = results.filter((r) => r.status === 200 && r.body.includes('GW_UPSTREAM_CLOSED'));
      assert.ok(cut.length <= 16, `cut mid-stream: ${cut.length} (at most those in flight)`);
      assert.ok(gw.router.stats().retriesTotal > 0, 'requests were retried elsewhere');
      const late = sims[1]!.stats().requests;
      await closedLoop(session, 4, 300);
      assert.equal(sims[1]!.stats().requests, late, 'the dead one gets nothing more');
    } finally {
      session.close();
      await gw.close(100);
      await Promise.all([sims[0]!.close(), sims[2]!.close()]);
    }
  });

  it('a request whose deadline passes while it waits for capacity never reaches the simulator', async () => {
    const sim = await startSimulator({ ttftMs: 5, tokenMs: 50, slots: 1, maxTokens: 20 });
    const gw = await gatewayFor({
      deployments: [{ name: 'one', url: `h2c://127.0.0.1:${sim.port}`, maxConcurrent: 1 }],
      models: [{ name: 'default', deployments: ['one'] }],
      routing: { queue: { maxWaiting: 10, maxWaitMs: 10_000 } },
    });
    const session = await h2connect(gw.urls[0] as string);
    try {
      const long = h2request(session, PATH, copilotBody({ max_tokens: 20, stop: [] }));
      await eventually(() => sim.stats().active === 1, 2000, 'first request running');
      const started = performance.now();
      const late = await h2request(session, PATH, copilotBody(), { 'x-ghostwire-deadline-ms': '150' });
      const tookMs = performance.now() - started;
      assert.equal(late.status, 504);
      assert.match(late.body, /GW_DEADLINE_EXCEEDED/);
      assert.ok(tookMs >= 140 && tookMs < 1000, `answered after ${tookMs} ms`);
      assert.equal((await long).status, 200);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(sim.stats().requests, 1, 'the expired request was never sent');
      // A malformed deadline is the client's mistake, said clearly.
      const bad = await h2request(session, PATH, copilotBody(), { 'x-ghostwire-deadline-ms': 'soon' });
      assert.equal(bad.status, 400);
      assert.match(bad.body, /x-ghostwire-deadline-ms/);
    } finally {
      session.close();
      await gw.close(100);
      await sim.close();
    }
  });
});

describe('regions over real sockets', () => {
  /** Polls GET /readyz until it answers `status`; returns how long that took. */
  async function readyzBecomes(
    session: http2.ClientHttp2Session,
    status: number,
    withinMs: number,
  ): Promise<number> {
    const started = performance.now();
    let last = 0;
    while (performance.now() - started < withinMs) {
      last = (await h2request(session, '/readyz', undefined, {}, 'GET')).status;
      if (last === status) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`/readyz still ${last} after ${withinMs} ms`);
  }

  it('local capacity dies: readiness 503 within 2 s and traffic spills to the next region; it returns: 200 within 2 s, traffic comes back', async (t) => {
    let local: Simulator = await startSimulator({ ttftMs: 5, tokenMs: 2, maxTokens: 4 });
    const port = local.port;
    const remote = await startSimulator({ ttftMs: 5, tokenMs: 2, maxTokens: 4 });
    const gw = await gatewayFor({
      deployments: [
        { name: 'eu-sim', url: `h2c://127.0.0.1:${port}`, region: 'eu' },
        { name: 'us-sim', url: `h2c://127.0.0.1:${remote.port}`, region: 'us' },
      ],
      models: [{ name: 'default', deployments: ['eu-sim', 'us-sim'] }],
      routing: {
        region: 'eu',
        regions: [
          { name: 'eu', publicUrl: 'https://eu.gw.example' },
          { name: 'us', publicUrl: 'https://us.gw.example' },
        ],
      },
    });
    const session = await h2connect(gw.urls[0] as string);
    try {
      await readyzBecomes(session, 200, 2000);
      const steady = await closedLoop(session, 4, 300);
      assert.equal(remote.stats().requests, 0, 'in-region while healthy');
      assert.ok(steady.every((r) => r.status === 200));

      await local.close();
      const downMs = await readyzBecomes(session, 503, 2000);
      const ready = await h2request(session, '/readyz', undefined, {}, 'GET');
      assert.match(ready.body, /GW_NO_HEALTHY_UPSTREAM/);
      assert.equal(gw.router.nearestRegionUrl(), 'https://us.gw.example');
      const spilled = await closedLoop(session, 4, 300);
      assert.ok(
        spilled.every((r) => r.status === 200),
        'served by the next region',
      );
      assert.equal(remote.stats().requests, spilled.length);

      local = await startSimulator({ port, ttftMs: 5, tokenMs: 2, maxTokens: 4 });
      const upMs = await readyzBecomes(session, 200, 2000);
      await eventually(
        async () => {
          const before = remote.stats().requests;
          await closedLoop(session, 2, 100);
          return remote.stats().requests === before;
        },
        3000,
        'traffic back in-region',
      );
      assert.ok(local.stats().requests > 0);
      t.diagnostic(`readiness: 503 after ${downMs.toFixed(0)} ms, 200 after ${upMs.toFixed(0)} ms`);
    } finally {
      session.close();
      await gw.close(100);
      await Promise.all([local.close(), remote.close()]);
    }
  });
});
