import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { KeyRing, mintToken } from '../../src/auth/token/index.js';
import { hashApiKey } from '../../src/auth/verifiers/index.js';
import { validateConfig } from '../../src/config/load.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import {
  copilotBody,
  h1request,
  h2connect,
  h2request,
  sseEvents,
  type Received,
} from '../helpers/clients.js';
import { gatewayFor, recordRequests } from '../helpers/gateway.js';

const ALICE_KEY = 'gw_alice_long_lived_key_0123456789';
const BOB_KEY = 'gw_bob_disabled_key_0123456789';
const UPSTREAM_KEY = 'sk-upstream-never-to-be-seen-42';
const K1 = 'k1-secret-0123456789abcdef0123456789abcdef';
const K2 = 'k2-secret-fedcba9876543210fedcba9876543210';
const REVOKED_TID = 'revoked-token-id';

function authConfig(keys: { id: string; secret: string; retired?: boolean }[]): GatewayConfigInput['auth'] {
  return {
    signingKeys: keys,
    tokens: { clockSkewS: 30, flags: { chat: '1' } },
    verifier: {
      type: 'static',
      users: [
        {
          uid: 'u-alice',
          login: 'alice',
          sku: 'copilot_business_seat',
          org: 'acme',
          apiKeySha256: hashApiKey(ALICE_KEY),
        },
        { uid: 'u-bob', login: 'bob', apiKeySha256: hashApiKey(BOB_KEY), disabled: true },
      ],
    },
    revocation: { tokenIds: [REVOKED_TID] },
  };
}

function errorCode(res: Received): string | undefined {
  try {
    return (JSON.parse(res.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

describe('auth: token exchange, verification on every completion, Copilot start-up endpoints', () => {
  let sim: Simulator;
  let gw: Gateway;
  let url: string;
  let session: http2.ClientHttp2Session;

  before(async () => {
    sim = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 4 });
    gw = await gatewayFor({
      deployments: [
        {
          name: 'sim',
          url: `h2c://127.0.0.1:${sim.port}`,
          credential: { type: 'bearer', token: UPSTREAM_KEY },
        },
      ],
      models: [{ name: 'default', aliases: ['copilot-codex'], deployments: ['sim'] }],
      auth: authConfig([{ id: 'k1', secret: K1 }]),
    });
    url = gw.urls[0] as string;
    session = await h2connect(url);
  });
  after(async () => {
    session.close();
    await gw.close(100);
    await sim.close();
  });

  const exchange = (key: string, scheme = 'token'): Promise<Received> =>
    h2request(session, '/copilot_internal/v2/token', undefined, { authorization: `${scheme} ${key}` }, 'GET');
  const complete = (token: string | undefined): Promise<Received> =>
    h2request(
      session,
      '/v1/engines/copilot-codex/completions',
      copilotBody(),
      token === undefined ? {} : { authorization: `Bearer ${token}` },
    );

  it('the token exchange answers like GitHub: token, expires_at, refresh_in, sku, all four endpoints naming the gateway, x-github-request-id', async () => {
    const res = await exchange(ALICE_KEY);
    assert.equal(res.status, 200, res.body);
    assert.ok(
      typeof res.headers['x-github-request-id'] === 'string' && res.headers['x-github-request-id'] !== '',
    );
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = JSON.parse(res.body) as Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs((body.expires_at as number) - (now + 1800)) <= 2);
    assert.equal(body.refresh_in, 1500);
    assert.equal(body.sku, 'copilot_business_seat');
    assert.equal(body.chat, true, 'feature flags are echoed');
    assert.deepEqual(body.endpoints, { api: url, proxy: url, telemetry: url, 'origin-tracker': url });
    const token = body.token as string;
    // Copilot clients split at the first ':' and read the fields; the MAC is 64 hex.
    const [fields, mac] = token.split(':');
    assert.match(mac ?? '', /^[0-9a-f]{64}$/);
    const map = new Map((fields ?? '').split(';').map((kv) => kv.split('=') as [string, string]));
    assert.equal(map.get('uid'), 'u-alice');
    assert.equal(map.get('kid'), 'k1');
    // ':' may not appear in a value (clients split the token at the first ':'), so it is %-encoded.
    assert.equal(decodeURIComponent(map.get('proxy-ep') ?? ''), new URL(url).host);
    assert.equal(map.get('ol'), 'acme');
    assert.ok((map.get('tid') ?? '').length >= 16);
  });

  it('Bearer works for the exchange too, and HTTP/1.1 clients get the same answer', async () => {
    assert.equal((await exchange(ALICE_KEY, 'Bearer')).status, 200);
    const res = await h1request(
      url,
      '/copilot_internal/v2/token',
      undefined,
      { authorization: `token ${ALICE_KEY}` },
      'GET',
    );
    assert.equal(res.status, 200, res.body);
    assert.ok(res.headers['x-github-request-id']);
  });

  it('a completion with the exchanged token streams; the verified identity is on the request context', async () => {
    const rec = recordRequests();
    try {
      const { token } = JSON.parse((await exchange(ALICE_KEY)).body) as { token: string };
      const res = await complete(token);
      assert.equal(res.status, 200, res.body);
      assert.equal(sseEvents(res.body).at(-1), '[DONE]');
      const ctx = rec.ended.find((c) => c.route === 'engines');
      assert.equal(ctx?.identity?.uid, 'u-alice');
      assert.equal(ctx?.identity?.sku, 'copilot_business_seat');
      assert.equal(ctx?.identity?.org, 'acme');
      assert.equal(ctx?.identity?.tokenId, token.split(';')[0]?.slice('tid='.length));
      // The upstream gets the deployment's key, never the client's token.
      const seen = sim.lastRequest();
      assert.equal(seen?.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
      assert.ok(!JSON.stringify(seen).includes(token.split(':')[1] as string));
    } finally {
      rec.stop();
    }
  });

  it('every refusal has its own code, a 401 and WWW-Authenticate, and the upstream never hears of it', async () => {
    const before = sim.stats().requests;
    const { token } = JSON.parse((await exchange(ALICE_KEY)).body) as { token: string };
    const ring = new KeyRing([{ id: 'k1', retired: false, secret: K1 }]);
    const alice = { uid: 'u-alice', login: 'alice', sku: 's', org: undefined };
    const nowS = Date.now() / 1000;
    const mint = (o: Partial<Parameters<typeof mintToken>[0]>): string =>
      mintToken({ ring, identity: alice, lifetimeS: 60, nowS, proxyEp: 'x', flags: {}, ...o }).token;
    const other = new KeyRing([{ id: 'k9', retired: false, secret: K2 }]);
    const forged = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
    const cases: [string, string | undefined, string][] = [
      ['missing', undefined, 'GW_TOKEN_MISSING'],
      ['truncated', token.slice(0, token.length - 10), 'GW_TOKEN_MALFORMED'],
      ['garbage', 'not a token at all', 'GW_TOKEN_MALFORMED'],
      ['forged MAC', forged, 'GW_TOKEN_BAD_SIGNATURE'],
      ['unknown kid', mint({ ring: other }), 'GW_TOKEN_UNKNOWN_KEY'],
      // Expired 31 s ago with a 30 s skew allowance: refused. 29 s ago: still fine.
      ['expired beyond skew', mint({ nowS: nowS - 60 - 31 }), 'GW_TOKEN_EXPIRED'],
      ['revoked tid', mint({ tid: REVOKED_TID }), 'GW_TOKEN_REVOKED'],
    ];
    for (const [name, t, code] of cases) {
      const res = await complete(t);
      assert.equal(res.status, 401, name);
      assert.equal(errorCode(res), code, name);
      const challenge = String(res.headers['www-authenticate']);
      assert.match(challenge, /^Bearer realm="ghostwire"/, name);
      if (code !== 'GW_TOKEN_MISSING')
        assert.match(challenge, new RegExp(`error="invalid_token".*${code}`), name);
      assert.ok(t === undefined || !res.body.includes(t), `${name}: the token is not echoed`);
    }
    assert.equal((await complete(mint({ nowS: nowS - 60 - 29 }))).status, 200, 'within skew');
    assert.equal(sim.stats().requests, before + 1, 'refused requests never reached the model server');
  });

  it('credentials at the exchange: unknown → 401 GW_CREDENTIAL_INVALID, disabled → 403 GW_USER_DISABLED, none → 401 GW_CREDENTIAL_MISSING', async () => {
    const bad = await exchange('gw_wrong_key');
    assert.equal(bad.status, 401);
    assert.equal(errorCode(bad), 'GW_CREDENTIAL_INVALID');
    assert.equal(bad.headers['www-authenticate'], 'token realm="ghostwire"');
    assert.ok(!bad.body.includes('gw_wrong_key'));
    const bob = await exchange(BOB_KEY);
    assert.equal(bob.status, 403);
    assert.equal(errorCode(bob), 'GW_USER_DISABLED');
    const none = await h2request(session, '/copilot_internal/v2/token', undefined, {}, 'GET');
    assert.equal(none.status, 401);
    assert.equal(errorCode(none), 'GW_CREDENTIAL_MISSING');
    const post = await h2request(session, '/copilot_internal/v2/token', '{}', {
      authorization: `token ${ALICE_KEY}`,
    });
    assert.equal(post.status, 405);
  });

  it('the rest of a Copilot client start-up: user, experiment config, telemetry sink, model list', async () => {
    const user = await h2request(
      session,
      '/copilot_internal/user',
      undefined,
      { authorization: `token ${ALICE_KEY}` },
      'GET',
    );
    assert.equal(user.status, 200);
    assert.ok(user.headers['x-github-request-id']);
    const u = JSON.parse(user.body) as Record<string, unknown>;
    assert.equal(u.login, 'alice');
    assert.equal(u.access_type_sku, 'copilot_business_seat');
    assert.equal(u.copilot_plan, 'business');
    const exp = await h2request(session, '/telemetry', undefined, {}, 'GET');
    assert.deepEqual(JSON.parse(exp.body), {
      Configs: [{ Id: 'vscode', Parameters: {} }],
      AssignmentContext: '',
    });
    const events = await h2request(session, '/telemetry', JSON.stringify([{ data: { baseType: 'x' } }]));
    assert.equal(events.status, 204);
    // Read and dropped as it arrives, bounded: an unauthenticated route must not hold uploads.
    const huge = await h2request(session, '/telemetry', 'x'.repeat(1024 * 1024 + 1));
    assert.equal(huge.status, 413);
    assert.equal(
      (await h2request(session, '/models', undefined, {}, 'GET')).status,
      401,
      'models need a token',
    );
    const { token } = JSON.parse((await exchange(ALICE_KEY)).body) as { token: string };
    const models = await h2request(
      session,
      '/models',
      undefined,
      { authorization: `Bearer ${token}` },
      'GET',
    );
    assert.equal(models.status, 200);
    const list = (JSON.parse(models.body) as { data: Record<string, unknown>[] }).data;
    // The first completion model is the one the client uses: the first model's own name.
    assert.deepEqual(
      list.map((m) => m.id),
      ['default', 'copilot-codex'],
    );
    // Fields the Copilot language server validates before it accepts the list.
    for (const m of list) {
      assert.equal(typeof m.version, 'string');
      assert.equal(m.model_picker_enabled, false);
      assert.deepEqual(Object.keys(m.capabilities as object).sort(), [
        'family',
        'object',
        'tokenizer',
        'type',
      ]);
    }
    const embeddings = await h2request(session, '/embeddings/models', undefined, {}, 'GET');
    assert.equal(embeddings.status, 200);
    assert.deepEqual(JSON.parse(embeddings.body), { models: [] });
    // Any error carries x-github-request-id too, or the client blames a proxy or firewall.
    const missing = await h2request(session, '/nope', undefined, {}, 'GET');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['x-github-request-id'], missing.headers['x-request-id']);
  });

  it('no response, and no telemetry event, carries the upstream key, a client credential, a token or a signing secret', async () => {
    const rec = recordRequests();
    const { token } = JSON.parse((await exchange(ALICE_KEY)).body) as { token: string };
    const all = await Promise.all([
      exchange(ALICE_KEY),
      exchange('gw_wrong_key'),
      exchange(BOB_KEY),
      complete(token),
      complete(token.slice(0, 30)),
      h2request(session, '/copilot_internal/user', undefined, { authorization: `token ${ALICE_KEY}` }, 'GET'),
    ]);
    for (const res of all) {
      const wire = JSON.stringify(res.headers) + res.body;
      for (const secret of [UPSTREAM_KEY, ALICE_KEY, BOB_KEY, K1, K2, 'gw_wrong_key'])
        assert.ok(!wire.includes(secret), `a response carried ${secret.slice(0, 6)}…`);
    }
    rec.stop();
    // What telemetry subscribers (logs, metrics, the dashboard) get: the finished request contexts.
    assert.ok(rec.ended.length >= 7);
    const mac = token.split(':')[1] as string;
    for (const ctx of rec.ended) {
      const seen = JSON.stringify(ctx, (k, v: unknown) => (k === 'requestSignal' ? undefined : v));
      for (const secret of [UPSTREAM_KEY, ALICE_KEY, BOB_KEY, K1, K2, 'gw_wrong_key', mac])
        assert.ok(!seen.includes(secret), `a request-end event carried ${secret.slice(0, 6)}…`);
    }
  });
});

describe('auth: signing-key rotation under load refuses no valid token', () => {
  it('tokens from k1 keep working while k2 is added and starts signing; zero 401s across the rotation', async () => {
    const sim = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 2 });
    const base = {
      listeners: [{ host: '127.0.0.1', port: 0 }],
      deployments: [{ name: 'sim', url: `h2c://127.0.0.1:${sim.port}` }],
      models: [{ name: 'default', deployments: ['sim'] }],
    };
    const gw = await gatewayFor({ ...base, auth: authConfig([{ id: 'k1', secret: K1 }]) });
    const url = gw.urls[0] as string;
    const sessions = await Promise.all([h2connect(url), h2connect(url), h2connect(url), h2connect(url)]);
    const first = sessions[0];
    try {
      const tokenOf = async (): Promise<string> => {
        const res = await h2request(
          first,
          '/copilot_internal/v2/token',
          undefined,
          { authorization: `token ${ALICE_KEY}` },
          'GET',
        );
        return (JSON.parse(res.body) as { token: string }).token;
      };
      const k1Token = await tokenOf();
      let currentToken = k1Token;
      const statuses = new Map<number, number>();
      let sent = 0;
      let stop = false;
      // Four client connections, each with requests back to back, for as long as the rotation takes.
      const workers = sessions.map(async (s, i) => {
        while (!stop && sent < 20_000) {
          sent++;
          const res = await h2request(s, '/v1/engines/default/completions', copilotBody({ max_tokens: 2 }), {
            authorization: `Bearer ${i % 2 === 0 ? k1Token : currentToken}`,
          });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
      });
      await new Promise((r) => setTimeout(r, 300));
      // Rotation step 1: k2 appended (it signs from now on), k1 still verifies.
      const rotated = validateConfig({
        ...base,
        auth: authConfig([
          { id: 'k1', secret: K1 },
          { id: 'k2', secret: K2 },
        ]),
      });
      await gw.auth?.reload(rotated.auth);
      currentToken = await tokenOf();
      assert.match(currentToken, /;kid=k2:/, 'new tokens are signed with the newest key');
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await Promise.all(workers);
      assert.ok(sent >= 100, `only ${sent} requests ran during the rotation`);
      assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);

      // A reload that changes an existing key's secret would break every token of that kid: refused, nothing changes.
      await assert.rejects(
        async () =>
          gw.auth?.reload(
            validateConfig({
              ...base,
              auth: authConfig([
                { id: 'k1', secret: K2 },
                { id: 'k2', secret: K2 },
              ]),
            }).auth,
          ),
        /"k1" has a different secret/,
      );
      assert.equal(
        (
          await h2request(first, '/v1/engines/default/completions', copilotBody(), {
            authorization: `Bearer ${k1Token}`,
          })
        ).status,
        200,
      );

      // Step 2, after the old tokens' lifetime: k1 retired; its tokens are refused, k2's are not.
      await gw.auth?.reload(
        validateConfig({
          ...base,
          auth: authConfig([
            { id: 'k1', secret: K1, retired: true },
            { id: 'k2', secret: K2 },
          ]),
        }).auth,
      );
      const old = await h2request(first, '/v1/engines/default/completions', copilotBody(), {
        authorization: `Bearer ${k1Token}`,
      });
      assert.equal(old.status, 401);
      assert.equal(errorCode(old), 'GW_TOKEN_UNKNOWN_KEY');
      const fresh = await h2request(first, '/v1/engines/default/completions', copilotBody(), {
        authorization: `Bearer ${currentToken}`,
      });
      assert.equal(fresh.status, 200);
    } finally {
      for (const s of sessions) s.close();
      await gw.close(100);
      await sim.close();
    }
  });
});
