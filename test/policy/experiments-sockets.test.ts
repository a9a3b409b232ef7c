// Pins down experiments over real sockets (issue 7, item 2): each user's arm decides the model,
// the deployments and the sampling parameters the upstream sees; the arm is named in a response
// header on success and on errors alike, and in the request's end event; a user keeps their arm.
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { KeyRing, mintToken } from '../../src/auth/token/index.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import { bucketOf, unitHashOf } from '../../src/policy/experiments.js';
import { validateConfig } from '../../src/config/load.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';
import {
  copilotBody,
  eventually,
  h1request,
  h2connect,
  h2request,
  sleep,
  sseText,
} from '../helpers/clients.js';
import { fakeH2Upstream, sseChunk, type FakeUpstream, type H2Behaviour } from '../helpers/fake-upstream.js';
import { gatewayFor, recordRequests } from '../helpers/gateway.js';

const K1 = 'k1-secret-0123456789abcdef0123456789abcdef';
const HEADER = 'x-ghostwire-experiment';

const answer =
  (text: string): H2Behaviour =>
  (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
    stream.end(`${sseChunk(text, 'stop')}data: [DONE]\n\n`);
  };
const fail: H2Behaviour = (stream) => {
  stream.respond({ ':status': 500, 'content-type': 'application/json' });
  stream.end('{"error":"boom"}');
};

/** The arm a user must be in, computed from the documented definition (1:1:1 weights). */
function expectedArm(uid: string): string {
  const u = bucketOf(unitHashOf(uid), 'rollout');
  return u < 1 / 3 ? 'control' : u < 2 / 3 ? 'v2' : 'pinned';
}

describe('experiments over sockets', () => {
  const up: Record<string, FakeUpstream> = {};
  let gw: Gateway;
  let url: string;
  let session: http2.ClientHttp2Session;
  const ring = new KeyRing([{ id: 'k1', retired: false, secret: K1 }]);
  const tokenFor = (uid: string): string =>
    mintToken({
      ring,
      identity: { uid, login: uid, sku: 'copilot_business_seat', org: undefined },
      lifetimeS: 600,
      nowS: Date.now() / 1000,
      proxyEp: 'x',
      flags: {},
    }).token;

  before(async () => {
    for (const name of ['a1', 'a2', 'b1']) up[name] = await fakeH2Upstream(answer(name));
    up.bad = await fakeH2Upstream(fail);
    const deployment = (name: string) => ({ name, url: (up[name] as FakeUpstream).url });
    const experiments: NonNullable<GatewayConfigInput['policy']>['experiments'] = [
      {
        name: 'rollout',
        match: { model: ['code'] },
        arms: [
          { name: 'control', weight: 1 },
          { name: 'v2', weight: 1, model: 'code-v2', params: { max_tokens: 7, temperature: 0.25 } },
          { name: 'pinned', weight: 1, deployments: ['a2'] },
        ],
      },
      // Every OpenAI-protocol request goes to a model whose server fails: errors carry the header too.
      {
        name: 'outage',
        match: { protocol: ['openai'] },
        arms: [{ name: 'down', weight: 1, model: 'broken' }],
      },
    ];
    gw = await gatewayFor({
      deployments: [deployment('a1'), deployment('a2'), deployment('b1'), deployment('bad')],
      models: [
        { name: 'code', deployments: ['a1', 'a2'] },
        { name: 'code-v2', upstreamModel: 'qwen-next', deployments: ['b1'] },
        { name: 'broken', deployments: ['bad'] },
      ],
      routing: { retries: { enabled: false } },
      auth: {
        signingKeys: [{ id: 'k1', secret: K1 }],
        verifier: { type: 'static', users: [{ uid: 'x', apiKeySha256: '0'.repeat(64) }] },
      },
      policy: { experiments },
    });
    url = gw.urls[0] as string;
    session = await h2connect(url);
  });
  after(async () => {
    session.close();
    await gw.close(100);
    for (const u of Object.values(up)) await u.close();
  });

  /** Which fake upstream saw the request with this id, and the body it got. */
  function servedBy(requestId: string): { name: string; body: Record<string, unknown> } {
    const hits = Object.entries(up).flatMap(([name, u]) =>
      u.seen.filter((s) => s.headers['x-request-id'] === requestId).map((s) => ({ name, body: s.body })),
    );
    assert.equal(hits.length, 1, `request ${requestId} reached ${hits.length} upstreams`);
    const hit = hits[0] as { name: string; body: string };
    return { name: hit.name, body: JSON.parse(hit.body) as Record<string, unknown> };
  }

  it("each user's arm decides the model, deployments and parameters upstream; the arm is in the header and the end event", async () => {
    const rec = recordRequests();
    const arms = new Map<string, number>();
    try {
      for (let i = 0; i < 45; i++) {
        const uid = `user-${i}`;
        const arm = expectedArm(uid);
        arms.set(arm, (arms.get(arm) ?? 0) + 1);
        for (const round of [1, 2]) {
          const id = `exp-${i}-${round}`;
          const res = await h2request(
            session,
            '/v1/engines/code/completions',
            copilotBody({ max_tokens: 100 }),
            {
              authorization: `Bearer ${tokenFor(uid)}`,
              'x-request-id': id,
            },
          );
          assert.equal(res.status, 200, res.body);
          assert.equal(res.headers[HEADER], `rollout=${arm}`, `${uid} round ${round}`);
          const served = servedBy(id);
          assert.equal(sseText(res.body), served.name);
          if (arm === 'v2') {
            assert.equal(served.name, 'b1');
            assert.equal(served.body.model, 'qwen-next');
            assert.equal(served.body.max_tokens, 7);
            assert.equal(served.body.temperature, 0.25);
          } else {
            assert.ok(
              arm === 'pinned' ? served.name === 'a2' : ['a1', 'a2'].includes(served.name),
              served.name,
            );
            assert.equal(served.body.max_tokens, 100);
            assert.equal(served.body.temperature, 0);
          }
          const ctx = rec.ended.find((c) => c.id === id);
          assert.deepEqual(ctx?.experiments?.arms, [{ experiment: 'rollout', arm }]);
          assert.equal(ctx?.experiments?.label, `rollout=${arm}`);
          assert.equal(ctx?.model, arm === 'v2' ? 'code-v2' : 'code');
        }
      }
    } finally {
      rec.stop();
    }
    assert.equal(arms.size, 3, `every arm had users: ${JSON.stringify([...arms])}`);
  });

  it('an error answer carries the header too (HTTP/1.1), naming every experiment the request is in', async () => {
    const uid = 'user-7';
    const res = await h1request(
      url,
      '/v1/completions',
      JSON.stringify({ model: 'code', prompt: 'def f(', max_tokens: 5, stream: true }),
      { authorization: `Bearer ${tokenFor(uid)}` },
    );
    assert.equal(res.status, 502, res.body);
    assert.equal(res.headers[HEADER], `rollout=${expectedArm(uid)}, outage=down`);
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'GW_UPSTREAM_ERROR');
  });

  it('a request in no experiment has no header', async () => {
    const res = await h2request(session, '/v1/engines/code-v2/completions', copilotBody(), {
      authorization: `Bearer ${tokenFor('user-1')}`,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers[HEADER], undefined);
  });
});

describe('experiments with auth off: the editor session is the unit', () => {
  let upstream: FakeUpstream;
  let gw: Gateway;
  before(async () => {
    upstream = await fakeH2Upstream(answer('ok'));
    gw = await gatewayFor({
      deployments: [{ name: 'up', url: upstream.url }],
      models: [{ name: 'default', deployments: ['up'] }],
      policy: {
        experiments: [
          {
            name: 'len',
            arms: [
              { name: 'short', weight: 1, params: { max_tokens: 3 } },
              { name: 'long', weight: 1, params: { max_tokens: 300 } },
            ],
          },
        ],
      },
    });
  });
  after(async () => {
    await gw.close(100);
    await upstream.close();
  });

  it('the same session keeps its arm; a request without a session is in none', async () => {
    const session = await h2connect(gw.urls[0] as string);
    try {
      const seen = new Set<string>();
      for (let s = 0; s < 12; s++) {
        const headers = { 'vscode-sessionid': `session-${s}` };
        const first = await h2request(session, '/v1/engines/default/completions', copilotBody(), headers);
        const again = await h2request(session, '/v1/engines/default/completions', copilotBody(), headers);
        const arm = first.headers[HEADER] as string;
        assert.match(arm, /^len=(short|long)$/);
        assert.equal(again.headers[HEADER], arm);
        const sent = JSON.parse(upstream.seen.at(-1)?.body ?? '{}') as { max_tokens?: number };
        assert.equal(sent.max_tokens, arm === 'len=short' ? 3 : 300);
        seen.add(arm);
      }
      assert.equal(seen.size, 2);
      const none = await h2request(session, '/v1/engines/default/completions', copilotBody());
      assert.equal(none.status, 200);
      assert.equal(none.headers[HEADER], undefined);
      assert.equal(
        (JSON.parse(upstream.seen.at(-1)?.body ?? '{}') as { max_tokens?: number }).max_tokens,
        16,
      );
    } finally {
      session.close();
    }
  });
});

// Pins down experiments across a hot reload: new weights apply to the requests that arrive after
// it, users move only as the new weights say, and the arm a user gets is computed the same way.
describe('experiments across a reload', () => {
  let upstream: FakeUpstream;
  let gw: Gateway;
  const config = (short: number, long: number) =>
    validateConfig({
      listeners: [{ host: '127.0.0.1', port: 0 }],
      auth: { mode: 'none' },
      deployments: [{ name: 'up', url: upstream.url }],
      models: [{ name: 'default', deployments: ['up'] }],
      policy: {
        experiments: [
          {
            name: 'len',
            arms: [
              { name: 'short', weight: short, params: { max_tokens: 3 } },
              { name: 'long', weight: long, params: { max_tokens: 300 } },
            ],
          },
        ],
      },
    });
  /** The arm of a session under weights short:long, from the documented definition. */
  const armOf = (session: string, short: number, long: number): string =>
    bucketOf(unitHashOf(session), 'len') < short / (short + long) ? 'short' : 'long';

  before(async () => {
    upstream = await fakeH2Upstream(answer('ok'));
    gw = await startGateway(config(1, 1));
  });
  after(async () => {
    await gw.close(100);
    await upstream.close();
  });

  it('new weights apply to new requests; each session lands where the new weights put it', async () => {
    const session = await h2connect(gw.urls[0] as string);
    const arms = async (): Promise<Map<string, string>> => {
      const out = new Map<string, string>();
      for (let s = 0; s < 60; s++) {
        const id = `session-${s}`;
        const res = await h2request(session, '/v1/engines/default/completions', copilotBody(), {
          'vscode-sessionid': id,
        });
        assert.equal(res.status, 200);
        const sent = JSON.parse(upstream.seen.at(-1)?.body ?? '{}') as { max_tokens?: number };
        const arm = (res.headers[HEADER] as string).replace(/^len=/, '');
        assert.equal(sent.max_tokens, arm === 'short' ? 3 : 300, id);
        out.set(id, arm);
      }
      return out;
    };
    try {
      const before = await arms();
      for (const [id, arm] of before) assert.equal(arm, armOf(id, 1, 1), id);
      const r = await gw.reload(config(1, 9));
      assert.ok(r.applied.includes('policy'), JSON.stringify(r));
      const after = await arms();
      for (const [id, arm] of after) assert.equal(arm, armOf(id, 1, 9), id);
      // Moving weight to `long` moves users from short to long only, never the other way.
      let moved = 0;
      for (const [id, arm] of after) {
        if (before.get(id) !== arm) {
          moved++;
          assert.equal(arm, 'long', id);
        }
      }
      assert.ok(moved > 0, 'some sessions changed arm');
      assert.ok([...after.values()].filter((a) => a === 'long').length > 45, 'about 90% are long');
    } finally {
      session.close();
    }
  });
});

// Pins down mirroring per experiment: a mirror with match.arms takes only the requests in those
// arms, so a shadow sees exactly the traffic of the arm it is meant to compare with.
describe('experiments: a mirror for one arm', () => {
  let upstream: FakeUpstream;
  let shadow: FakeUpstream;
  let gw: Gateway;
  before(async () => {
    upstream = await fakeH2Upstream(answer('ok'));
    shadow = await fakeH2Upstream(answer('shadow'));
    gw = await gatewayFor({
      deployments: [
        { name: 'up', url: upstream.url },
        { name: 'shadow', url: shadow.url },
      ],
      models: [{ name: 'default', deployments: ['up'] }],
      routing: { health: { active: { enabled: false } } },
      policy: {
        experiments: [
          {
            name: 'len',
            arms: [
              { name: 'short', weight: 1 },
              { name: 'long', weight: 1 },
            ],
          },
        ],
        mirrors: [{ deployment: 'shadow', sample: 1, match: { arms: ['len=long'] } }],
      },
    });
  });
  after(async () => {
    await gw.close(100);
    await upstream.close();
    await shadow.close();
  });

  it('only requests in len=long reach the shadow; the client never sees its answer', async () => {
    const session = await h2connect(gw.urls[0] as string);
    try {
      const long: string[] = [];
      for (let s = 0; s < 30; s++) {
        const id = `arm-${s}`;
        const res = await h2request(session, '/v1/engines/default/completions', copilotBody(), {
          'vscode-sessionid': `session-${s}`,
          'x-request-id': id,
        });
        assert.equal(res.status, 200);
        assert.equal(sseText(res.body), 'ok');
        if (res.headers[HEADER] === 'len=long') long.push(id);
      }
      assert.ok(long.length > 0 && long.length < 30, `${long.length} of 30 in len=long`);
      await eventually(() => shadow.seen.length === long.length, 2000, 'every long request mirrored');
      await sleep(50);
      assert.deepEqual(
        shadow.seen.map((r) => r.headers['x-request-id']),
        long,
      );
    } finally {
      session.close();
    }
  });
});
