import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashApiKey } from '../../src/auth/verifiers/index.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, eventually, h2connect, h2request } from '../helpers/clients.js';
import { runCli, startCli } from '../helpers/spawn.js';

const K1 = 'cli-k1-secret-0123456789abcdef0123456789';
const K2 = 'cli-k2-secret-abcdef0123456789abcdef0123';
const ALICE = 'gw_cli_alice_key_0123456789';

describe('ghostwire token, and key rotation by SIGHUP reload', () => {
  let sim: Simulator;
  let dir: string;
  let file: string;

  function writeConfig(keys: { id: string; secret: unknown; retired?: boolean }[], port = 0): void {
    writeFileSync(
      file,
      JSON.stringify({
        listeners: [{ host: '127.0.0.1', port }],
        deployments: [{ name: 'sim', url: `h2c://127.0.0.1:${sim.port}` }],
        models: [{ name: 'default', deployments: ['sim'] }],
        auth: {
          signingKeys: keys,
          verifier: {
            type: 'static',
            users: [
              { uid: 'alice', sku: 'copilot_business_seat', org: 'acme', apiKeySha256: hashApiKey(ALICE) },
              { uid: 'bob', apiKeySha256: hashApiKey(`${ALICE}-bob`), disabled: true },
            ],
          },
        },
      }),
    );
  }

  before(async () => {
    sim = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 2 });
    dir = mkdtempSync(join(tmpdir(), 'gw-token-cli-'));
    file = join(dir, 'ghostwire.json');
    process.env.GW_TEST_SIGNING = K1;
    writeConfig([{ id: 'k1', secret: { env: 'GW_TEST_SIGNING' } }]);
  });
  after(async () => {
    delete process.env.GW_TEST_SIGNING;
    await sim.close();
  });

  it('mint prints a token; inspect --config verifies it (exit 0), names the reason when not (exit 1), never prints a secret', async () => {
    const minted = await runCli(['token', 'mint', '--config', file, '--uid', 'alice', '--json']);
    assert.equal(minted.code, 0, minted.stderr);
    const { token, tid, expires_at } = JSON.parse(minted.stdout) as {
      token: string;
      tid: string;
      expires_at: number;
    };
    assert.match(token, /;kid=k1:[0-9a-f]{64}$/);
    assert.ok(
      token.includes('sku=copilot_business_seat') && token.includes('ol=acme'),
      'a static user’s sku and org',
    );
    assert.ok(tid.length > 0 && expires_at > Date.now() / 1000);

    const ok = await runCli(['token', 'inspect', '--config', file, token]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /verdict: valid/);
    assert.match(ok.stdout, /key: k1 \(signing\)/);
    assert.match(ok.stdout, /"uid" = "alice"/);

    const forged = await runCli(['token', 'inspect', '--config', file, token.slice(0, -2) + '00']);
    assert.equal(forged.code, 1);
    assert.match(forged.stdout, /GW_TOKEN_BAD_SIGNATURE/);
    const unverified = await runCli(['token', 'inspect', token]);
    assert.equal(unverified.code, 1);
    assert.match(unverified.stdout, /not verified/);
    for (const r of [minted, ok, forged, unverified]) assert.ok(!(r.stdout + r.stderr).includes(K1));

    const bob = await runCli(['token', 'mint', '--config', file, '--uid', 'bob']);
    assert.equal(bob.code, 1);
    assert.match(bob.stderr, /disabled/);
    const usage = await runCli(['token', 'mint', '--config', file]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--uid/);
  });

  it('a short signing secret stops start-up with exit 2, naming the key, not the secret', async () => {
    const bad = join(dir, 'short.json');
    writeFileSync(
      bad,
      JSON.stringify({
        deployments: [{ name: 'sim', url: `h2c://127.0.0.1:${sim.port}` }],
        models: [{ name: 'default', deployments: ['sim'] }],
        auth: {
          signingKeys: [{ id: 'weak', secret: 'tooshort-SECRET' }],
          verifier: { type: 'static', users: [{ uid: 'a', apiKeySha256: hashApiKey('x') }] },
        },
      }),
    );
    const r = await runCli(['serve', '--config', bad, '--port', '0']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /"weak".*32 bytes/);
    assert.ok(!r.stderr.includes('tooshort-SECRET'));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('SIGHUP with a new key appended: old tokens keep working, new ones are signed with it; a broken file changes nothing', async () => {
    writeConfig([{ id: 'k1', secret: { env: 'GW_TEST_SIGNING' } }]);
    const gw = await startCli(['serve', '--config', file, '--port', '0'], { GW_TEST_SIGNING: K1 });
    const session = await h2connect(gw.url);
    try {
      const exchange = async (): Promise<string> => {
        const res = await h2request(
          session,
          '/copilot_internal/v2/token',
          undefined,
          { authorization: `token ${ALICE}` },
          'GET',
        );
        assert.equal(res.status, 200, res.body);
        return (JSON.parse(res.body) as { token: string }).token;
      };
      const complete = async (token: string): Promise<number> =>
        (
          await h2request(session, '/v1/engines/default/completions', copilotBody(), {
            authorization: `Bearer ${token}`,
          })
        ).status;
      const old = await exchange();
      assert.match(old, /;kid=k1:/);

      writeConfig([
        { id: 'k1', secret: { env: 'GW_TEST_SIGNING' } },
        { id: 'k2', secret: K2 },
      ]);
      gw.child.kill('SIGHUP');
      await eventually(
        () => /SIGHUP: reloaded .*: applied .*auth/.test(gw.stderr()),
        3000,
        'the reload line',
      );
      assert.doesNotMatch(gw.stderr(), /needs a restart/);
      assert.match(await exchange(), /;kid=k2:/);
      assert.equal(await complete(old), 200, 'a k1 token survives the rotation');

      writeFileSync(file, '{ "auth": ');
      gw.child.kill('SIGHUP');
      await eventually(
        () => /reload refused, still running/.test(gw.stderr()),
        3000,
        'the failed-reload line',
      );
      assert.equal(await complete(old), 200);
      assert.ok(!gw.stderr().includes(K2) && !gw.stderr().includes(K1));
    } finally {
      session.close();
      assert.equal(await gw.stop(), 0);
    }
  });
});
