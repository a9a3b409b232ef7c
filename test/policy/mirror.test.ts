// Pins down mirroring (issue 7, item 2) over real sockets: a sample of requests also goes to a
// shadow deployment, after the primary (never before); the shadow's answer is read and dropped,
// only its latency and errors are counted; a stalled, failing or unreachable shadow changes
// nothing for the primary; a cancelled primary resets the shadow's stream too; a shadow that
// outlives its primary is cut at the request's deadline; routing never counts shadow traffic.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/server/gateway.js';
import { copilotBody, eventually, h2connect, h2request, sleep, sseText } from '../helpers/clients.js';
import {
  deadPort,
  fakeH2Upstream,
  sseChunk,
  type FakeUpstream,
  type H2Behaviour,
} from '../helpers/fake-upstream.js';
import { gatewayFor } from '../helpers/gateway.js';

const { NGHTTP2_CANCEL } = http2.constants;

/** A fake upstream that also notes when each completion arrived and how its stream closed. */
interface Tracked {
  fake: FakeUpstream;
  arrivedAt: Map<string, number>;
  closed: { id: string; rstCode: number; at: number }[];
}

async function tracked(behaviour: H2Behaviour): Promise<Tracked> {
  const t: Tracked = { fake: undefined as unknown as FakeUpstream, arrivedAt: new Map(), closed: [] };
  t.fake = await fakeH2Upstream((stream, headers, body) => {
    if (headers[':method'] === 'GET') {
      stream.respond({ ':status': 200 });
      stream.end();
      return;
    }
    const id = String(headers['x-request-id']);
    t.arrivedAt.set(id, performance.now());
    stream.on('close', () => t.closed.push({ id, rstCode: stream.rstCode, at: performance.now() }));
    behaviour(stream, headers, body);
  });
  return t;
}

const answer =
  (text: string): H2Behaviour =>
  (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
    stream.end(`${sseChunk(text, 'stop')}data: [DONE]\n\n`);
  };
/** Headers never come: a shadow that hangs. */
const stall: H2Behaviour = () => {};
const fail: H2Behaviour = (stream) => {
  stream.respond({ ':status': 500, 'content-type': 'application/json' });
  stream.end('{"error":"shadow is broken"}');
};
/** A chunk every 20 ms for 3 s: a long generation. */
const trickle: H2Behaviour = (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
  let n = 0;
  const timer = setInterval(() => {
    if (stream.closed || stream.destroyed || n++ >= 150) {
      clearInterval(timer);
      if (!stream.closed && !stream.destroyed) stream.end('data: [DONE]\n\n');
      return;
    }
    stream.write(sseChunk('x'));
  }, 20);
};

describe('mirroring over sockets', () => {
  const t: Record<string, Tracked> = {};
  let gw: Gateway;
  let url: string;
  let session: http2.ClientHttp2Session;

  before(async () => {
    t.primary = await tracked(answer('primary'));
    t.primarySlow = await tracked(trickle);
    t.ok = await tracked(answer('shadow'));
    t.stall = await tracked(stall);
    t.fail = await tracked(fail);
    t.slow = await tracked(trickle);
    t.sampled = await tracked(answer('shadow'));
    const d = (name: string) => ({ name, url: (t[name] as Tracked).fake.url });
    const model = (name: string, deployment = 'primary') => ({ name, deployments: [deployment] });
    const mirror = (deployment: string, models: string[], extra: Record<string, unknown> = {}) => ({
      deployment,
      sample: 1,
      match: { model: models },
      ...extra,
    });
    gw = await gatewayFor({
      deployments: [
        d('primary'),
        d('primarySlow'),
        d('ok'),
        d('stall'),
        d('fail'),
        { name: 'dead', url: `h2c://127.0.0.1:${await deadPort()}` },
        d('slow'),
        d('sampled'),
      ],
      models: [
        model('to-ok'),
        model('to-stall'),
        model('to-fail'),
        model('to-dead'),
        model('to-slow', 'primarySlow'),
        model('to-sampled'),
        model('unmirrored'),
      ],
      // No probes: whatever health the shadow deployments have must come from mirrored traffic.
      routing: { health: { active: { enabled: false } } },
      policy: {
        mirrors: [
          mirror('ok', ['to-ok'], { upstreamModel: 'shadow-model' }),
          mirror('stall', ['to-stall'], { maxInFlight: 2 }),
          mirror('fail', ['to-fail']),
          mirror('dead', ['to-dead']),
          mirror('slow', ['to-slow']),
          mirror('sampled', ['to-sampled'], { sample: 0.25 }),
        ],
      },
    });
    url = gw.urls[0] as string;
    session = await h2connect(url);
  });
  after(async () => {
    session.close();
    await gw.close(100);
    for (const x of Object.values(t)) await x.fake.close();
  });

  const complete = (model: string, id: string, headers: Record<string, string> = {}) =>
    h2request(session, `/v1/engines/${model}/completions`, copilotBody(), { 'x-request-id': id, ...headers });
  const stats = (deployment: string) => {
    const s = gw.policy.stats().mirrors[deployment];
    assert.ok(s !== undefined, deployment);
    return s;
  };

  it('the shadow gets the same request after the primary, marked as a shadow; its answer is dropped', async () => {
    const res = await complete('to-ok', 'm-ok-1');
    assert.equal(res.status, 200);
    assert.equal(sseText(res.body), 'primary');
    await eventually(() => stats('ok').okTotal === 1, 3000, 'the shadow to finish');
    const primary = t.primary?.fake.seen.find((s) => s.headers['x-request-id'] === 'm-ok-1');
    const shadow = t.ok?.fake.seen.find((s) => s.headers['x-request-id'] === 'm-ok-1');
    assert.ok(primary !== undefined && shadow !== undefined);
    assert.equal(shadow.headers['x-ghostwire-shadow'], '1');
    assert.equal(primary.headers['x-ghostwire-shadow'], undefined);
    const [p, s] = [primary, shadow].map((x) => JSON.parse(x.body) as Record<string, unknown>);
    assert.equal(s?.prompt, p?.prompt);
    assert.equal(p?.model, 'to-ok');
    assert.equal(s?.model, 'shadow-model');
    assert.ok(
      (t.ok?.arrivedAt.get('m-ok-1') ?? 0) > (t.primary?.arrivedAt.get('m-ok-1') ?? Infinity),
      'the shadow left after the primary',
    );
    const st = stats('ok');
    assert.deepEqual(
      [
        st.sampledTotal,
        st.sentTotal,
        st.okTotal,
        st.errorsTotal,
        st.inFlight,
        st.ttfbMs.count,
        st.durationMs.count,
      ],
      [1, 1, 1, 0, 0, 1, 1],
    );
  });

  it('a shadow that never answers does not delay the primary at all; beyond maxInFlight none is sent; each is cut at the deadline', async () => {
    const started = performance.now();
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) => complete('to-stall', `m-stall-${i}`, { 'x-ghostwire-deadline-ms': '1200' })),
    );
    const elapsed = performance.now() - started;
    for (const r of results) assert.equal(sseText(r.body), 'primary');
    assert.ok(elapsed < 800, `the primaries took ${elapsed.toFixed(0)} ms`);
    await eventually(() => stats('stall').sentTotal + stats('stall').droppedTotal === 4);
    assert.equal(stats('stall').sentTotal, 2, 'maxInFlight: 2');
    assert.equal(stats('stall').inFlight, 2, 'still waiting for answers after the primaries ended');
    // Past the request's deadline the shadows are reset: the shadow server sees its streams cancelled.
    await eventually(() => (t.stall?.closed.length ?? 0) === 2, 3000, 'the shadow streams to be reset');
    assert.ok(t.stall?.closed.every((c) => c.rstCode === NGHTTP2_CANCEL));
    assert.ok((t.stall?.closed[0]?.at ?? 0) - started >= 1100, 'not before the deadline');
    await eventually(() => stats('stall').inFlight === 0);
    assert.deepEqual(stats('stall').errors, { GW_DEADLINE_EXCEEDED: 2 });
  });

  it('a failing or unreachable shadow changes nothing for the primary, and routing never sees shadow traffic', async () => {
    for (let i = 0; i < 8; i++) {
      for (const model of ['to-fail', 'to-dead']) {
        const res = await complete(model, `m-${model}-${i}`);
        assert.equal(res.status, 200);
        assert.equal(sseText(res.body), 'primary');
      }
    }
    await eventually(() => stats('fail').errorsTotal === 8 && stats('dead').errorsTotal === 8);
    assert.deepEqual(stats('fail').errors, { HTTP_500: 8 });
    assert.deepEqual(Object.keys(stats('dead').errors), ['GW_UPSTREAM_UNAVAILABLE']);
    const health = gw.router.stats().health.deployments;
    for (const name of ['fail', 'dead']) {
      // Eight failures in a row would eject a deployment (consecutiveFailures: 5) if they were counted.
      assert.equal(health[name]?.ejectionsTotal, 0, name);
      assert.equal(health[name]?.state, 'healthy', name);
    }
    assert.ok(gw.registry.deployments.every((d) => d.outstanding === 0));
  });

  it("the client cancelling the primary resets the shadow's stream as well", async () => {
    const req = session.request({
      ':method': 'POST',
      ':path': '/v1/engines/to-slow/completions',
      'content-type': 'application/json',
      'x-request-id': 'm-cancel',
    });
    req.on('error', () => {});
    let chunks = 0;
    req.on('data', () => chunks++);
    req.end(copilotBody({ max_tokens: 200 }));
    await eventually(() => chunks > 0 && t.slow?.arrivedAt.has('m-cancel') === true, 3000, 'both streams');
    await sleep(50); // the shadow is streaming too
    const cancelledAt = performance.now();
    req.close(NGHTTP2_CANCEL);
    await eventually(
      () => t.slow?.closed.some((c) => c.id === 'm-cancel') === true,
      2000,
      'the shadow reset',
    );
    const closed = t.slow?.closed.find((c) => c.id === 'm-cancel');
    assert.equal(closed?.rstCode, NGHTTP2_CANCEL);
    assert.ok((closed?.at ?? Infinity) - cancelledAt < 500, 'at once, not at the end of its 3 s stream');
    await eventually(() => stats('slow').cancelledTotal === 1);
    assert.equal(stats('slow').errorsTotal, 0, 'a cancel is not a shadow error');
    await eventually(() => t.primarySlow?.closed.some((c) => c.id === 'm-cancel') === true);
  });

  it('about `sample` of matching requests are mirrored; other models and shadows of shadows never are', async () => {
    const n = 200;
    for (let i = 0; i < n; i++) await complete('to-sampled', `m-sample-${i}`);
    await eventually(() => stats('sampled').okTotal === stats('sampled').sampledTotal);
    const s = stats('sampled');
    // Binomial(200, 0.25): mean 50, sd 6.1; ±4 sd.
    assert.ok(s.sampledTotal >= 25 && s.sampledTotal <= 75, `${s.sampledTotal} of ${n} mirrored`);
    assert.equal(t.sampled?.fake.seen.length, s.sampledTotal);
    const before = { ok: stats('ok').sampledTotal, seen: t.ok?.fake.seen.length };
    await complete('unmirrored', 'm-none');
    await complete('to-ok', 'm-shadow-of-shadow', { 'x-ghostwire-shadow': '1' });
    await sleep(50);
    assert.equal(stats('ok').sampledTotal, before.ok);
    assert.equal(t.ok?.fake.seen.length, before.seen);
  });
});
