import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSimulator } from '../../src/simulator/index.js';
import { channels } from '../../src/telemetry/events.js';
import { copilotBody, eventually, h2connect, h2request } from '../helpers/clients.js';
import { fakeH2Upstream } from '../helpers/fake-upstream.js';
import { gatewayFor } from '../helpers/gateway.js';

// Capacity and deadlines over real sockets: what a client sees when the queue wait runs out, when
// its own deadline asks for more than the gateway allows, and when a retry would come too late.

const PATH = '/v1/engines/default/completions';

describe('queue wait and deadlines over real sockets', () => {
  it('the queue wait runs out with nowhere to spill: 503 GW_NO_CAPACITY with Retry-After, never sent upstream', async () => {
    const sim = await startSimulator({ ttftMs: 5, tokenMs: 50, slots: 1, maxTokens: 20 });
    const gw = await gatewayFor({
      deployments: [{ name: 'one', url: `h2c://127.0.0.1:${sim.port}`, maxConcurrent: 1 }],
      models: [{ name: 'default', deployments: ['one'] }],
      routing: { queue: { maxWaiting: 10, maxWaitMs: 50 } },
    });
    const session = await h2connect(gw.urls[0] as string);
    try {
      const long = h2request(session, PATH, copilotBody({ max_tokens: 20, stop: [] }));
      await eventually(() => sim.stats().active === 1, 2000, 'the one slot taken');
      const started = performance.now();
      const refused = await h2request(session, PATH, copilotBody());
      const tookMs = performance.now() - started;
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'GW_NO_CAPACITY');
      assert.ok(tookMs >= 45 && tookMs < 900, `answered after the 50 ms wait (${tookMs.toFixed(0)} ms)`);
      assert.equal((await long).status, 200);
      assert.equal(sim.stats().requests, 1, 'the refused request never reached the simulator');
      assert.equal(gw.router.stats().noCapacityTotal, 1);
    } finally {
      session.close();
      await gw.close(100);
      await sim.close();
    }
  });

  it('a client deadline above limits.maxRequestTimeoutMs is clamped to it; one below is kept', async () => {
    const silent = await fakeH2Upstream(() => {}); // never answers: only the deadline ends a request
    const gw = await gatewayFor({
      deployments: [{ name: 'silent', url: silent.url }],
      models: [{ name: 'default', deployments: ['silent'] }],
      limits: { requestTimeoutMs: 5000, maxRequestTimeoutMs: 300 },
      routing: { retries: { enabled: false }, health: { active: { enabled: false } } },
    });
    const session = await h2connect(gw.urls[0] as string);
    try {
      const timed = async (deadline: string): Promise<number> => {
        const started = performance.now();
        const r = await h2request(session, PATH, copilotBody(), { 'x-ghostwire-deadline-ms': deadline });
        assert.equal(r.status, 504);
        assert.match(r.body, /GW_DEADLINE_EXCEEDED/);
        return performance.now() - started;
      };
      const clamped = await timed('3000');
      assert.ok(
        clamped >= 290 && clamped < 2000,
        `asked 3 s, got the 300 ms bound: ${clamped.toFixed(0)} ms`,
      );
      const kept = await timed('100');
      assert.ok(kept >= 95 && kept < 290, `asked 100 ms: ${kept.toFixed(0)} ms`);
    } finally {
      session.close();
      await gw.close(100);
      await silent.close();
    }
  });

  it('no retry is sent once the deadline has passed, even when the event loop ran late and its timer has not fired', async () => {
    const bad = await fakeH2Upstream((stream) => {
      stream.respond({ ':status': 503 });
      stream.end();
    });
    const good = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 4 });
    const gw = await gatewayFor({
      deployments: [
        { name: 'bad', url: bad.url, weight: 100 },
        { name: 'good', url: `h2c://127.0.0.1:${good.port}`, weight: 0.01 },
      ],
      models: [{ name: 'default', deployments: ['bad', 'good'] }],
      routing: {
        affinity: { enabled: false },
        health: { active: { enabled: false }, passive: { consecutiveFailures: 1 } },
      },
    });
    // The 503 ejects `bad` (one failure is enough here), and this subscriber to that event
    // stalls the event loop past the request's 100 ms deadline: the retry's pick then runs
    // (setImmediate) before the deadline's timer can, so only the pick's own check stops it.
    const stall = (): void => {
      const until = performance.now() + 150;
      while (performance.now() < until);
    };
    channels.deploymentHealth.subscribe(stall);
    const session = await h2connect(gw.urls[0] as string);
    try {
      const r = await h2request(session, PATH, copilotBody(), { 'x-ghostwire-deadline-ms': '100' });
      assert.notEqual(r.status, 200);
      assert.equal(bad.seen.length, 1);
      assert.equal(good.stats().requests, 0, 'the retry would have arrived after the deadline: never sent');
      assert.equal(gw.router.stats().retriesTotal, 0);
    } finally {
      channels.deploymentHealth.unsubscribe(stall);
      session.close();
      await gw.close(100);
      await Promise.all([bad.close(), good.close()]);
    }
  });
});
