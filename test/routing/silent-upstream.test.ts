import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { describe, it } from 'node:test';
import { channels, type HealthEvent } from '../../src/telemetry/events.js';
import { copilotBody, eventually, h2connect, h2request, sleep, type Received } from '../helpers/clients.js';
import { fakeH2Upstream } from '../helpers/fake-upstream.js';
import { gatewayFor } from '../helpers/gateway.js';

// Pins down: a deployment that accepts connections and streams but never answers. A request that
// reaches its deadline before the first byte is a TTFB sample only, never proof that the server
// answers (that once healed half-open trials and silenced the prober's own timeouts).

const PATH = '/v1/engines/default/completions';

/** Workers sending completions with a short deadline, back to back, until `stop()` is called. */
function loadWithDeadline(
  session: http2.ClientHttp2Session,
  workers: number,
  deadlineMs: number,
): { stop(): Promise<Received[]> } {
  let running = true;
  const out: Received[] = [];
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < 1000 && running; i++)
        out.push(
          await h2request(session, PATH, copilotBody(), { 'x-ghostwire-deadline-ms': String(deadlineMs) }),
        );
    }),
  );
  return {
    async stop() {
      running = false;
      await done;
      return out;
    },
  };
}

describe('a deployment that accepts but never answers', () => {
  it('is marked down by its probes while completions to it keep timing out', async () => {
    const silent = await fakeH2Upstream(() => {}); // neither completions nor /health are answered
    const gw = await gatewayFor({
      deployments: [{ name: 'silent', url: silent.url }],
      models: [{ name: 'default', deployments: ['silent'] }],
      routing: {
        retries: { enabled: false },
        health: { active: { intervalMs: 100, timeoutMs: 100, unhealthyThreshold: 2 } },
      },
    });
    const session = await h2connect(gw.urls[0] as string);
    const d = gw.registry.deployments[0]!;
    const load = loadWithDeadline(session, 4, 60);
    try {
      // Before the fix every timed-out completion counted as an answer, so each probe timeout
      // was excused by "traffic kept succeeding" and the deployment stayed healthy for ever.
      await eventually(() => d.health.state === 'down', 3000, 'the silent deployment marked down');
      const results = await load.stop();
      assert.ok(results.length > 0);
      assert.ok(
        results.every((r) => r.status === 504 && r.body.includes('GW_DEADLINE_EXCEEDED')),
        'every completion ran into its deadline',
      );
      assert.equal(d.lastSuccessAt, -Infinity, 'a timeout is not an answer');
      assert.ok(d.ttfb.count > 0 && d.ttfbMs >= 50, `the waits are TTFB samples (${d.ttfbMs} ms)`);
      assert.equal(gw.router.stats().health.transitionsTotal.down, 1);
    } finally {
      await load.stop();
      session.close();
      await gw.close(100);
      await silent.close();
    }
  });

  it('a half-open trial that times out without a byte re-ejects it for twice as long instead of healing it', async () => {
    let mode: 'fail' | 'silent' = 'fail';
    const upstream = await fakeH2Upstream((stream) => {
      if (mode === 'silent') return;
      stream.respond({ ':status': 503 });
      stream.end();
    });
    const gw = await gatewayFor({
      deployments: [{ name: 'flaky', url: upstream.url }],
      models: [{ name: 'default', deployments: ['flaky'] }],
      routing: {
        retries: { enabled: false },
        health: {
          active: { enabled: false },
          passive: { consecutiveFailures: 3, baseEjectionMs: 100, maxEjectionMs: 10_000 },
        },
      },
    });
    const events: HealthEvent[] = [];
    const onEvent = (m: unknown): void => void events.push(m as HealthEvent);
    channels.deploymentHealth.subscribe(onEvent);
    const session = await h2connect(gw.urls[0] as string);
    const d = gw.registry.deployments[0]!;
    try {
      for (let i = 0; i < 3; i++) assert.equal((await h2request(session, PATH, copilotBody())).status, 503);
      assert.equal(d.health.state, 'ejected');
      mode = 'silent'; // it comes back accepting streams, but never answers them
      await sleep(150); // the 100 ms cool-down is over: the next request is the half-open trial
      const trial = await h2request(session, PATH, copilotBody(), { 'x-ghostwire-deadline-ms': '100' });
      assert.equal(trial.status, 504);
      assert.equal(d.health.state, 'ejected', 'silence is not a success');
      assert.deepEqual(
        events.map((e) => `${e.from}>${e.to}`),
        ['healthy>ejected', 'ejected>half-open', 'half-open>ejected'],
      );
      assert.match(
        events[2]?.reason ?? '',
        /trial request failed \(no answer before the deadline\); out for 200 ms/,
      );
      assert.equal(d.health.ejectionsTotal, 2);
      assert.equal(d.lastSuccessAt, -Infinity);
    } finally {
      channels.deploymentHealth.unsubscribe(onEvent);
      session.close();
      await gw.close(100);
      await upstream.close();
    }
  });
});
