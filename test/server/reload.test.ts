// Pins down hot reload (issue 7, item 5) in-process: a reload applies to new requests, streams in
// flight finish on the config they started with, unchanged deployments are kept as they are
// (connections, health, load), removed ones close once their last stream ends, and a config
// that cannot be used changes nothing.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';
import { reloadPlan } from '../../src/server/reload-plan.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, eventually, h2connect, h2request, sseText, TLS_DIR } from '../helpers/clients.js';

const base = (over: Partial<GatewayConfigInput> = {}): GatewayConfigInput => ({
  listeners: [{ host: '127.0.0.1', port: 0 }],
  auth: { mode: 'none' },
  deployments: [{ name: 'a', url: 'h2c://127.0.0.1:1' }],
  models: [{ name: 'default', deployments: ['a'] }],
  ...over,
});

describe('reloadPlan', () => {
  it('applies what a new generation carries and keeps what needs a restart at its old value', () => {
    const prev = validateConfig(base());
    const next = validateConfig(
      base({
        listeners: [{ host: '127.0.0.1', port: 9 }],
        limits: { firstByteTimeoutMs: 1234, requestTimeoutMs: 5000 },
        deployments: [{ name: 'b', url: 'h2c://127.0.0.1:2' }],
        models: [{ name: 'default', deployments: ['b'] }],
        policy: { supersession: { enabled: true } },
      }),
    );
    const plan = reloadPlan(prev, next);
    assert.deepEqual(plan.applied.sort(), ['deployments', 'limits', 'models', 'policy']);
    assert.deepEqual(plan.needsRestart.sort(), ['limits.firstByteTimeoutMs', 'listeners']);
    assert.equal(plan.effective.listeners[0]?.port, 0, 'the listener keeps its old address');
    assert.equal(plan.effective.limits.firstByteTimeoutMs, prev.limits.firstByteTimeoutMs);
    assert.equal(plan.effective.limits.requestTimeoutMs, 5000, 'request limits apply');
    assert.equal(plan.effective.deployments[0]?.name, 'b');
    assert.ok(Object.isFrozen(plan.effective.limits), 'the running config stays frozen');
  });

  it('finds nothing to do in an identical config', () => {
    const c = validateConfig(base());
    assert.deepEqual(reloadPlan(c, validateConfig(base())), {
      effective: reloadPlan(c, c).effective,
      applied: [],
      needsRestart: [],
    });
  });

  it('a changed auth mode needs a restart and keeps the running auth section', () => {
    const prev = validateConfig(base());
    const next = validateConfig(
      base({
        auth: {
          mode: 'tokens',
          signingKeys: [{ id: 'k1', secret: 'x'.repeat(32) }],
          verifier: { type: 'static', users: [{ uid: 'u', apiKeySha256: 'ab'.repeat(32) }] },
        },
      }),
    );
    const plan = reloadPlan(prev, next);
    assert.deepEqual(plan.needsRestart, ['auth.mode']);
    assert.equal(plan.effective.auth.mode, 'none');
  });
});

describe('reload over sockets', () => {
  let simA: Simulator;
  let simB: Simulator;
  let gw: Gateway;
  let removed: Gateway['registry']['deployments'][number] | undefined;
  before(async () => {
    // Slow tokens: a stream started before the reload is still running after it, with room to
    // spare on a loaded CI machine (60 × 40 ms = 2.4 s; the reload and one request take < 100 ms).
    simA = await startSimulator({ ttftMs: 5, tokenMs: 40, maxTokens: 60 });
    simB = await startSimulator({ ttftMs: 5, tokenMs: 1, maxTokens: 60 });
  });
  after(async () => {
    await gw?.close(100);
    await Promise.all([simA.close(), simB.close()]);
  });
  const onA = () =>
    base({
      deployments: [
        { name: 'a', url: `h2c://127.0.0.1:${simA.port}` },
        { name: 'b', url: `h2c://127.0.0.1:${simB.port}` },
      ],
      models: [{ name: 'default', deployments: ['a'] }],
    });
  const onB = () =>
    base({
      deployments: [{ name: 'b', url: `h2c://127.0.0.1:${simB.port}` }],
      models: [{ name: 'default', deployments: ['b'] }],
    });

  it('new requests take the new config; a stream in flight finishes on the old one', async () => {
    gw = await startGateway(validateConfig(onA()));
    const session = await h2connect(gw.urls[0] as string);
    try {
      const keptB = gw.registry.deployments.find((d) => d.name === 'b');
      removed = gw.registry.deployments.find((d) => d.name === 'a');
      const body = copilotBody({ max_tokens: 60, stream: true });
      const inFlight = h2request(session, '/v1/engines/default/completions', body);
      await eventually(() => simA.stats().active === 1, 2000, 'the first stream is generating on a');
      // b's connection is open before the reload (its health probe), and stays the same after.
      await eventually(() => keptB?.dispatcher.stats().connections === 1, 2000, 'b connected');
      const result = await gw.reload(validateConfig(onB()));
      assert.deepEqual(result.applied.sort(), ['deployments', 'models']);
      assert.deepEqual(result.needsRestart, []);
      assert.equal(gw.registry.deployments.length, 1);
      assert.equal(gw.registry.deployments[0], keptB, 'an unchanged deployment is kept as it is');

      const fresh = await h2request(session, '/v1/engines/default/completions', body);
      assert.equal(fresh.status, 200);
      assert.equal(simB.stats().completed, 1, 'the new request went to b');
      assert.equal(keptB?.dispatcher.stats().connectsTotal, 1, 'on the connection b already had');
      assert.equal(removed?.dispatcher.stats().connections, 1, 'a stays open while its stream runs');

      const old = await inFlight;
      assert.equal(old.status, 200);
      assert.ok(sseText(old.body).length > 0 && old.body.includes('[DONE]'), 'the old stream ended whole');
      assert.equal(simA.stats().completed, 1, 'it was served by a, the deployment the reload removed');
      assert.equal(simA.stats().cancelled, 0, 'and never cut');
    } finally {
      session.close();
    }
  });

  it('a deployment the reload removed closes its connections once its last stream has ended', async () => {
    // After the test above: a's last stream ended, so its generation retired and let go of it.
    await eventually(() => removed?.dispatcher.stats().connections === 0, 3000, 'a closed');
    assert.equal(gw.config.deployments.length, 1);
  });

  it('a config that cannot be used is refused and changes nothing', async () => {
    const before = gw.config;
    const bad = validateConfig(
      base({
        deployments: [
          {
            name: 'b',
            url: `h2c://127.0.0.1:${simB.port}`,
            credential: { type: 'bearer', token: { env: 'GHOSTWIRE_TEST_NOT_SET' } },
          },
        ],
        models: [{ name: 'default', deployments: ['b'] }],
      }),
    );
    await assert.rejects(gw.reload(bad), /GHOSTWIRE_TEST_NOT_SET is not set/);
    assert.equal(gw.config, before, 'the running config is the old one');
    const session = await h2connect(gw.urls[0] as string);
    try {
      const r = await h2request(session, '/v1/engines/default/completions', copilotBody({ max_tokens: 4 }));
      assert.equal(r.status, 200, 'and it still serves');
    } finally {
      session.close();
    }
  });

  it('policy changes apply to the next request', async () => {
    assert.equal(gw.policy.superseder.enabled, false);
    const r = await gw.reload(validateConfig({ ...onB(), policy: { supersession: { enabled: true } } }));
    assert.deepEqual(r.applied, ['policy']);
    assert.equal(gw.policy.superseder.enabled, true);
  });
});

describe('reload: TLS certificates', () => {
  it('new handshakes get a renewed certificate, open connections keep working, a bad pair is refused', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const install = (c: string, k: string): void => {
      copyFileSync(path.join(TLS_DIR, c), cert);
      copyFileSync(path.join(TLS_DIR, k), key);
    };
    install('cert.pem', 'key.pem');
    const sim = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 4 });
    const cfg = validateConfig(
      base({
        listeners: [{ host: '127.0.0.1', port: 0, tls: { certFile: cert, keyFile: key } }],
        deployments: [{ name: 'a', url: `h2c://127.0.0.1:${sim.port}` }],
      }),
    );
    const gw = await startGateway(cfg);
    const url = gw.urls[0] as string;
    // The test certificates are self-signed: compare what the server presents, not a chain.
    const connect = (): Promise<{ session: http2.ClientHttp2Session; fingerprint: string }> =>
      new Promise((resolve, reject) => {
        const session = http2.connect(url, { rejectUnauthorized: false });
        session.once('connect', () =>
          resolve({
            session,
            fingerprint: (session.socket as TLSSocket).getPeerCertificate().fingerprint256,
          }),
        );
        session.once('error', reject);
      });
    const sessions: http2.ClientHttp2Session[] = [];
    try {
      const first = await connect();
      sessions.push(first.session);
      install('cert2.pem', 'key2.pem');
      const r = await gw.reload(cfg);
      assert.deepEqual(r.applied, ['tls']);
      const second = await connect();
      sessions.push(second.session);
      assert.notEqual(second.fingerprint, first.fingerprint, 'a new connection gets the new certificate');
      const old = await h2request(first.session, '/v1/engines/default/completions', copilotBody());
      assert.equal(old.status, 200, 'the connection opened before the rotation still serves');

      install('cert.pem', 'key2.pem'); // a key that does not match its certificate
      await assert.rejects(gw.reload(cfg), /listeners\[0\]\.tls: the new certificate and key do not load/);
      const third = await connect();
      sessions.push(third.session);
      assert.equal(third.fingerprint, second.fingerprint, 'the refused pair changed nothing');
    } finally {
      for (const s of sessions) s.close();
      await gw.close(100);
      await sim.close();
    }
  });
});
