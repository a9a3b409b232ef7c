import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashApiKey } from '../../src/auth/verifiers/index.js';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, h2connect, h2request } from '../helpers/clients.js';
import { gatewayFor } from '../helpers/gateway.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { runCli } from '../helpers/spawn.js';

const KEY = 'gw_carol_key_0123456789abcdef';
const SECRET = 'revocation-test-secret-0123456789abcdef';

// Two gateway instances share one Redis denylist: `ghostwire token revoke` on the command line
// must cut a token off on both within a second, with no restart and no config change.
describe('auth: revocation through Redis reaches every instance within a second', () => {
  let redis: RedisServer;
  let sim: Simulator;
  let gws: Gateway[];
  let configFile: string;

  before(async () => {
    redis = await startRedis();
    sim = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 2 });
    const auth = {
      signingKeys: [{ id: 'k1', secret: SECRET }],
      verifier: {
        type: 'static' as const,
        users: [
          { uid: 'u-carol', apiKeySha256: hashApiKey(KEY) },
          { uid: 'u-dave', apiKeySha256: hashApiKey(`${KEY}-dave`) },
        ],
      },
      revocation: { redis: { url: redis.url, keyPrefix: 'gwtest:revoked', syncIntervalMs: 5000 } },
    };
    const routes = {
      deployments: [{ name: 'sim', url: `h2c://127.0.0.1:${sim.port}` }],
      models: [{ name: 'default', deployments: ['sim'] }],
    };
    gws = [await gatewayFor({ ...routes, auth }), await gatewayFor({ ...routes, auth })];
    configFile = join(mkdtempSync(join(tmpdir(), 'gw-revoke-')), 'ghostwire.json');
    writeFileSync(configFile, JSON.stringify({ ...routes, auth }));
  });
  after(async () => {
    for (const gw of gws) await gw.close(100);
    await sim.close();
    await redis.stop();
  });

  async function tokenFor(gw: Gateway, key: string): Promise<string> {
    const s = await h2connect(gw.urls[0] as string);
    try {
      const res = await h2request(
        s,
        '/copilot_internal/v2/token',
        undefined,
        { authorization: `token ${key}` },
        'GET',
      );
      assert.equal(res.status, 200, res.body);
      return (JSON.parse(res.body) as { token: string }).token;
    } finally {
      s.close();
    }
  }

  async function statusOn(gw: Gateway, token: string): Promise<number> {
    const s = await h2connect(gw.urls[0] as string);
    try {
      return (
        await h2request(s, '/v1/completions', copilotBody({ model: 'default' }), {
          authorization: `Bearer ${token}`,
        })
      ).status;
    } finally {
      s.close();
    }
  }

  it('a gateway whose Redis denylist has never been read is not ready (revoked tokens could pass)', async () => {
    const dead = await gatewayFor({
      deployments: [{ name: 'sim', url: `h2c://127.0.0.1:${sim.port}` }],
      models: [{ name: 'default', deployments: ['sim'] }],
      auth: {
        signingKeys: [{ id: 'k1', secret: SECRET }],
        verifier: { type: 'static', users: [{ uid: 'u', apiKeySha256: hashApiKey(KEY) }] },
        // Nothing listens on port 1.
        revocation: { redis: { url: 'redis://127.0.0.1:1' } },
      },
    });
    try {
      const s = await h2connect(dead.urls[0] as string);
      const res = await h2request(s, '/readyz', undefined, {}, 'GET');
      s.close();
      assert.equal(res.status, 503);
      assert.match(res.body, /GW_AUTH_UNAVAILABLE/);
      const ok = await h2connect((gws[0] as Gateway).urls[0] as string);
      assert.equal((await h2request(ok, '/readyz', undefined, {}, 'GET')).status, 200);
      ok.close();
    } finally {
      await dead.close(100);
    }
  });

  it('token revoke --tid refuses that token on both instances within 1 s; other tokens unaffected', async () => {
    const [a, b] = gws as [Gateway, Gateway];
    const token = await tokenFor(a, KEY);
    const other = await tokenFor(b, KEY);
    assert.equal(await statusOn(b, token), 200, 'a token from one instance works on the other');
    const tid = token.split(';')[0]?.slice('tid='.length) ?? '';
    const revoked = await runCli(['token', 'revoke', '--config', configFile, '--tid', tid]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const at = Date.now();
    for (const gw of [a, b]) {
      while ((await statusOn(gw, token)) !== 401) {
        assert.ok(Date.now() - at < 1000, 'revocation not seen within 1 s');
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.equal(await statusOn(a, other), 200);
    const listed = await runCli(['token', 'revoked', '--config', configFile]);
    assert.match(listed.stdout, new RegExp(tid));
  });

  it('token revoke --uid cuts the user off: their tokens fail and they get no new ones', async () => {
    const [a, b] = gws as [Gateway, Gateway];
    const token = await tokenFor(a, `${KEY}-dave`);
    const revoked = await runCli(['token', 'revoke', '--config', configFile, '--uid', 'u-dave']);
    assert.equal(revoked.code, 0, revoked.stderr);
    const at = Date.now();
    while ((await statusOn(b, token)) !== 401) {
      assert.ok(Date.now() - at < 1000, 'uid revocation not seen within 1 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const s = await h2connect(b.urls[0] as string);
    const ex = await h2request(
      s,
      '/copilot_internal/v2/token',
      undefined,
      { authorization: `token ${KEY}-dave` },
      'GET',
    );
    s.close();
    assert.equal(ex.status, 401);
    assert.equal((JSON.parse(ex.body) as { error: { code: string } }).error.code, 'GW_TOKEN_REVOKED');
    // And back: unrevoke lifts it.
    assert.equal((await runCli(['token', 'unrevoke', '--config', configFile, '--uid', 'u-dave'])).code, 0);
    const at2 = Date.now();
    while ((await statusOn(b, token)) !== 200) {
      assert.ok(Date.now() - at2 < 1000, 'unrevoke not seen within 1 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});
