// Pins down the cost of mirroring to the primary (issue 7, item 2): with every request mirrored
// to a shadow that is much slower than the primary's server, or to one that refuses every
// connection, the primary's status is 200 and its latency is what it is with mirroring off,
// within noise. Runs are interleaved request by request (the three sides in a rotating order) so
// they share whatever else the machine is doing, and medians are compared with a bound far below
// what waiting for the slow shadow would add (its time to first token is 60 ms).
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, h2connect, h2request } from '../helpers/clients.js';
import { deadPort } from '../helpers/fake-upstream.js';
import { gatewayFor } from '../helpers/gateway.js';

const SHADOW_TTFT_MS = 60;
const ROUNDS = 60;
const SIDES = ['off', 'slow', 'failing'] as const;
type Side = (typeof SIDES)[number];

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};

describe('mirroring does not change primary latency beyond noise', () => {
  let primary: Simulator;
  let shadow: Simulator;
  const gws = {} as Record<Side, Gateway>;
  const sessions = {} as Record<Side, http2.ClientHttp2Session>;

  before(async () => {
    primary = await startSimulator({ ttftMs: 5, tokenMs: 1, maxTokens: 8, slots: 64 });
    shadow = await startSimulator({ ttftMs: SHADOW_TTFT_MS, tokenMs: 5, maxTokens: 8, slots: 64 });
    const refused = await deadPort();
    const config = (side: Side) => ({
      deployments: [
        { name: 'primary', url: `h2c://127.0.0.1:${primary.port}` },
        { name: 'shadow', url: `h2c://127.0.0.1:${side === 'failing' ? refused : shadow.port}` },
      ],
      models: [{ name: 'default', deployments: ['primary'] }],
      routing: { health: { active: { enabled: false } } },
      policy: { mirrors: side === 'off' ? [] : [{ deployment: 'shadow', sample: 1 }] },
    });
    for (const side of SIDES) {
      gws[side] = await gatewayFor(config(side));
      sessions[side] = await h2connect(gws[side].urls[0] as string);
    }
  });
  after(async () => {
    for (const side of SIDES) {
      sessions[side].close();
      await gws[side].close(100);
    }
    await primary.close();
    await shadow.close();
  });

  it(`${ROUNDS} interleaved rounds: first byte and end within noise of mirroring off, slow or failing shadow`, async (t) => {
    const run = async (side: Side) => {
      const r = await h2request(
        sessions[side],
        '/v1/engines/default/completions',
        copilotBody({ max_tokens: 8 }),
      );
      assert.equal(r.status, 200, `${side}: ${r.body}`);
      return { ttfb: r.chunks[0]?.atMs ?? Infinity, total: r.endedAt - r.startedAt };
    };
    // Warm-up: connections, JIT, the shadow's pool.
    for (let i = 0; i < 10; i++) for (const side of SIDES) await run(side);
    shadow.resetStats();
    const ttfb = { off: [], slow: [], failing: [] } as Record<Side, number[]>;
    const total = { off: [], slow: [], failing: [] } as Record<Side, number[]>;
    for (let i = 0; i < ROUNDS; i++) {
      // Rotate which side goes first, so none always follows another's leftovers.
      for (let k = 0; k < SIDES.length; k++) {
        const side = SIDES[(i + k) % SIDES.length] as Side;
        const r = await run(side);
        ttfb[side].push(r.ttfb);
        total[side].push(r.total);
      }
    }
    const m = Object.fromEntries(
      SIDES.map((side) => [
        side,
        {
          ttfbP50: quantile(ttfb[side], 0.5),
          ttfbP90: quantile(ttfb[side], 0.9),
          totalP50: quantile(total[side], 0.5),
          totalP90: quantile(total[side], 0.9),
        },
      ]),
    ) as Record<Side, { ttfbP50: number; ttfbP90: number; totalP50: number; totalP90: number }>;
    const summary = JSON.stringify(m, (_k, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(2)) : v));
    t.diagnostic(`primary latency (ms): ${summary}`);
    // Every slow-side request did reach the slow shadow (else there would be nothing to measure),
    // and every failing-side shadow failed.
    assert.ok(
      shadow.stats().requests >= ROUNDS - 1,
      `${shadow.stats().requests} shadow requests; ${summary}`,
    );
    const failing = gws.failing.policy.stats().mirrors.shadow;
    assert.ok((failing?.errorsTotal ?? 0) >= ROUNDS, JSON.stringify(failing));
    assert.equal(failing?.okTotal, 0);
    // Structural: the primary's first byte comes long before the slow shadow's could.
    assert.ok(m.slow.ttfbP50 < SHADOW_TTFT_MS / 2, summary);
    // Within noise: waiting for the slow shadow would add >= 60 ms; the bound is a few ms or 50%.
    for (const side of ['slow', 'failing'] as const) {
      assert.ok(m[side].ttfbP50 - m.off.ttfbP50 < Math.max(4, m.off.ttfbP50 * 0.5), `${side}: ${summary}`);
      assert.ok(m[side].totalP50 - m.off.totalP50 < Math.max(4, m.off.totalP50 * 0.5), `${side}: ${summary}`);
    }
  });
});
