import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashApiKey } from '../../src/auth/verifiers/index.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { eventually, h2connect, h2request } from '../helpers/clients.js';
import { deadPort } from '../helpers/fake-upstream.js';
import { gatewayFor } from '../helpers/gateway.js';

// Pins down the token exchange's steering: `endpoints.proxy` and the token's `proxy-ep` name the
// nearest region that has healthy capacity and a public URL, so a client moves at its next token
// refresh. The own region's capacity dies for real (its simulator closes, its probes fail).

const KEY = 'gw_steering_key_0123456789abcdef';

const auth: GatewayConfigInput['auth'] = {
  signingKeys: [{ id: 'k1', secret: 'k1-secret-0123456789abcdef0123456789abcdef' }],
  verifier: {
    type: 'static',
    users: [{ uid: 'u-1', login: 'carol', sku: 'copilot_business_seat', apiKeySha256: hashApiKey(KEY) }],
  },
};

/** A gateway in region eu with one deployment per region at the given URLs (probes every 100 ms). */
function regionalGateway(
  urls: { eu: string; us: string; ap: string },
  regions: NonNullable<GatewayConfigInput['routing']>['regions'],
): Promise<Gateway> {
  return gatewayFor({
    deployments: (['eu', 'us', 'ap'] as const).map((r) => ({ name: `${r}-sim`, url: urls[r], region: r })),
    models: [{ name: 'default', deployments: ['eu-sim', 'us-sim', 'ap-sim'] }],
    routing: {
      region: 'eu',
      regions,
      health: { active: { intervalMs: 100, timeoutMs: 200, unhealthyThreshold: 2 } },
    },
    auth,
  });
}

/** Exchanges KEY for a token; returns `endpoints` and the token's `proxy-ep`. */
async function exchange(url: string): Promise<{ endpoints: Record<string, string>; proxyEp: string }> {
  const session = await h2connect(url);
  try {
    const res = await h2request(
      session,
      '/copilot_internal/v2/token',
      undefined,
      { authorization: `token ${KEY}` },
      'GET',
    );
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as { token: string; endpoints: Record<string, string> };
    const fields = new Map(
      (body.token.split(':')[0] ?? '').split(';').map((kv) => kv.split('=') as [string, string]),
    );
    return { endpoints: body.endpoints, proxyEp: decodeURIComponent(fields.get('proxy-ep') ?? '') };
  } finally {
    session.close();
  }
}

const h2c = (s: Simulator): string => `h2c://127.0.0.1:${s.port}`;

describe('token exchange steering over real sockets', () => {
  it("own region healthy: this region's URL; its capacity dies: the next healthy region's publicUrl, in endpoints.proxy and proxy-ep", async () => {
    const sims = await Promise.all(
      [0, 1, 2].map(() => startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 2 })),
    );
    const [eu, us, ap] = sims as [Simulator, Simulator, Simulator];
    const gw = await regionalGateway({ eu: h2c(eu), us: h2c(us), ap: h2c(ap) }, [
      { name: 'eu', publicUrl: 'https://eu.gw.example' },
      { name: 'us', publicUrl: 'https://us.gw.example/' },
      { name: 'ap', publicUrl: 'https://ap.gw.example' },
    ]);
    const url = gw.urls[0] as string;
    try {
      const home = await exchange(url);
      assert.equal(home.endpoints.proxy, 'https://eu.gw.example');
      assert.equal(home.proxyEp, 'eu.gw.example');

      await eu.close();
      await eventually(() => !gw.router.readiness().ready, 3000, 'eu marked down by its probes');
      const moved = await exchange(url);
      assert.equal(moved.endpoints.proxy, 'https://us.gw.example', 'the next region, trailing slash dropped');
      assert.equal(moved.proxyEp, 'us.gw.example');
      assert.equal(moved.endpoints.api, url, 'only completions move; the rest still names this gateway');
    } finally {
      await gw.close(100);
      await Promise.all(sims.map((s) => s.close()));
    }
  });

  it('the nearest healthy region has no publicUrl: the next healthy one that has; none: this gateway', async () => {
    const us = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 2 });
    let ap: Simulator = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 2 });
    const apPort = ap.port;
    const gw = await regionalGateway(
      { eu: `h2c://127.0.0.1:${await deadPort()}`, us: h2c(us), ap: h2c(ap) },
      [
        { name: 'eu', publicUrl: 'https://eu.gw.example' },
        { name: 'us' }, // healthy, but with no URL clients could be sent to
        { name: 'ap', publicUrl: 'https://ap.gw.example' },
      ],
    );
    const url = gw.urls[0] as string;
    try {
      await eventually(() => !gw.router.readiness().ready, 3000, 'eu marked down by its probes');
      const steered = await exchange(url);
      assert.equal(steered.endpoints.proxy, 'https://ap.gw.example');
      assert.equal(steered.proxyEp, 'ap.gw.example');

      await ap.close();
      const apDeployment = gw.registry.deployments.find((d) => d.name === 'ap-sim')!;
      await eventually(() => apDeployment.health.state === 'down', 3000, 'ap marked down');
      const home = await exchange(url);
      assert.equal(home.endpoints.proxy, 'https://eu.gw.example', "no region to name: this region's own URL");
      assert.equal(home.proxyEp, 'eu.gw.example');

      ap = await startSimulator({ port: apPort, ttftMs: 1, tokenMs: 1, maxTokens: 2 });
      await eventually(() => apDeployment.health.state === 'healthy', 3000, 'ap back');
      assert.equal((await exchange(url)).endpoints.proxy, 'https://ap.gw.example');
    } finally {
      await gw.close(100);
      await Promise.all([us.close(), ap.close()]);
    }
  });
});
