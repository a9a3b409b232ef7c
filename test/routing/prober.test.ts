import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import type { HealthChange } from '../../src/routing/health.js';
import { Prober } from '../../src/routing/prober.js';
import { Registry } from '../../src/routing/registry.js';
import type { UpstreamHandler, UpstreamRequest } from '../../src/upstream/dispatcher.js';
import { copilotBody, eventually, h2connect, h2request, sleep, type Received } from '../helpers/clients.js';
import { fakeH2Upstream, sseChunk } from '../helpers/fake-upstream.js';
import { gatewayFor } from '../helpers/gateway.js';

// The active health check over real sockets: probes go over the deployment's own pool to a real
// HTTP/2 server, and the verdicts are read off the deployment's health.

type Active = NonNullable<NonNullable<GatewayConfigInput['routing']>['health']>['active'];

/** A registry with one deployment at `url` and a prober for it (not started). */
function probed(url: string, active: Active): { registry: Registry; prober: Prober } {
  const cfg = validateConfig({
    auth: { mode: 'none' },
    deployments: [{ name: 'd', url }],
    models: [{ name: 'm', deployments: ['d'] }],
    routing: { health: { active } },
  });
  const registry = new Registry(cfg);
  return { registry, prober: new Prober(registry.deployments, cfg.routing.health.active) };
}

describe('prober over real sockets', () => {
  it('thresholds: failed probes are re-checked after a quarter interval and mark it down at the threshold; good probes bring it back at theirs', async () => {
    let status = 200;
    const probes: { at: number; status: number }[] = [];
    const upstream = await fakeH2Upstream((stream, headers) => {
      assert.equal(headers[':path'], '/health');
      assert.equal(headers[':method'], 'GET');
      probes.push({ at: performance.now(), status });
      stream.respond({ ':status': status });
      stream.end();
    });
    const INTERVAL = 400;
    const { registry, prober } = probed(upstream.url, {
      intervalMs: INTERVAL,
      timeoutMs: 300,
      unhealthyThreshold: 3,
      healthyThreshold: 2,
    });
    const d = registry.deployments[0]!;
    const changes: { at: number; change: HealthChange }[] = [];
    d.onHealthChange((_d, change) => changes.push({ at: performance.now(), change }));
    prober.start();
    try {
      await eventually(() => probes.length >= 2, 3000, 'two good probes');
      assert.equal(d.health.state, 'healthy');
      assert.ok(probes[1]!.at - probes[0]!.at >= INTERVAL - 5, 'good probes come once per interval');

      status = 503;
      const failFrom = probes.length;
      await eventually(() => d.health.state === 'down', 3000, 'marked down');
      await eventually(() => probes.length >= failFrom + 4, 3000, 'a probe after the verdict');
      const failing = probes.slice(failFrom).map((p) => p.at);
      const gaps = failing.slice(1).map((t, i) => t - failing[i]!);
      // 1st failure → quarter → 2nd → quarter → 3rd: down (no longer suspect) → full interval.
      for (const g of gaps.slice(0, 2))
        assert.ok(
          g >= INTERVAL / 4 - 5 && g < INTERVAL - 50,
          `re-checked after a quarter: ${gaps.join(', ')}`,
        );
      assert.ok(gaps[2]! >= INTERVAL - 5, `down: back to the interval (${gaps.join(', ')})`);
      const downAt = changes.find((c) => c.change.to === 'down')!.at;
      assert.ok(downAt >= failing[2]!, 'only the third failure marks it down');
      assert.match(changes[0]!.change.reason, /probe failed 3× \(\/health answered 503\)/);

      status = 200;
      const goodFrom = probes.length;
      await eventually(() => d.health.state === 'healthy', 3000, 'back up');
      const good = probes.slice(goodFrom).map((p) => p.at);
      assert.ok(good.length >= 2, 'two good probes were needed');
      assert.ok(changes.at(-1)!.at >= good[1]!, 'not after the first good one');
      assert.deepEqual(
        changes.map((c) => `${c.change.from}>${c.change.to}`),
        ['healthy>down', 'down>healthy'],
      );
    } finally {
      prober.close();
      registry.destroy();
      await upstream.close();
    }
  });

  it('a probe that times out while completions keep succeeding gives no verdict; once they stop, its timeouts count', async () => {
    // (The opposite case, completions that time out too, is in silent-upstream.test.ts: a
    // completion's own timeout is not a success, so there the probe's timeouts count at once.)
    const upstream = await fakeH2Upstream((stream, headers) => {
      if (headers[':path'] === '/health') return; // stuck behind the batch, say
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      stream.end(sseChunk('x', 'stop') + 'data: [DONE]\n\n');
    });
    const gw = await gatewayFor({
      deployments: [{ name: 'busy', url: upstream.url }],
      models: [{ name: 'default', deployments: ['busy'] }],
      routing: { health: { active: { intervalMs: 100, timeoutMs: 100, unhealthyThreshold: 2 } } },
    });
    const session: http2.ClientHttp2Session = await h2connect(gw.urls[0] as string);
    const d = gw.registry.deployments[0]!;
    try {
      let running = true;
      const results: Received[] = [];
      const load = Promise.all(
        [0, 1].map(async () => {
          for (let i = 0; i < 10_000 && running; i++)
            results.push(await h2request(session, '/v1/engines/default/completions', copilotBody()));
        }),
      );
      await sleep(800); // several probe timeouts, each while completions were answered
      running = false;
      await load;
      assert.ok(results.length > 10 && results.every((r) => r.status === 200));
      assert.equal(d.health.transitionsTotal.down, 0, 'no verdict while traffic proved it answers');
      await eventually(() => d.health.state === 'down', 2000, 'down once the traffic stopped');
    } finally {
      session.close();
      await gw.close(100);
      await upstream.close();
    }
  });

  it('a dispatch that throws is a failed probe: no unhandled rejection, and the probe loop goes on', async () => {
    const upstream = await fakeH2Upstream((stream) => {
      stream.respond({ ':status': 200 });
      stream.end();
    });
    const { registry, prober } = probed(upstream.url, {
      intervalMs: 60,
      timeoutMs: 50,
      unhealthyThreshold: 2,
    });
    const d = registry.deployments[0]!;
    let calls = 0;
    d.dispatcher.dispatch = (_req: UpstreamRequest, _handler: UpstreamHandler) => {
      calls++;
      throw new Error('transport bug');
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    prober.start();
    try {
      await eventually(() => calls >= 4, 3000, 'probes keep coming');
      assert.deepEqual(unhandled, []);
      assert.equal(d.health.state, 'down');
      assert.equal(upstream.seen.length, 0);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      prober.close();
      registry.destroy();
      await upstream.close();
    }
  });
});
