import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import { startSimulator } from '../../src/simulator/index.js';
import { channels, type RetryEvent } from '../../src/telemetry/events.js';
import { copilotBody, h2connect, h2request } from '../helpers/clients.js';
import { deadPort, fakeH2Upstream, sseChunk } from '../helpers/fake-upstream.js';
import type { Gateway } from '../../src/server/gateway.js';
import { gatewayFor } from '../helpers/gateway.js';

const PATH = '/v1/engines/default/completions';

/** Collects retry events while `fn` runs. */
async function withRetries<T>(fn: (events: RetryEvent[]) => Promise<T>): Promise<T> {
  const events: RetryEvent[] = [];
  const on = (m: unknown): void => void events.push(m as RetryEvent);
  channels.requestRetry.subscribe(on);
  try {
    return await fn(events);
  } finally {
    channels.requestRetry.unsubscribe(on);
  }
}

/**
 * A gateway whose one model goes to `name` first (by weight; affinity and probes off, so only
 * real requests decide) and has the simulator on `goodPort` as the other deployment.
 */
function firstThenGood(name: string, url: string, goodPort: number): Promise<Gateway> {
  return gatewayFor({
    deployments: [
      { name, url, weight: 100 },
      { name: 'good', url: `h2c://127.0.0.1:${goodPort}`, weight: 0.01 },
    ],
    models: [{ name: 'default', deployments: [name, 'good'] }],
    routing: { affinity: { enabled: false }, health: { active: { enabled: false } } },
  });
}

describe('retries over real sockets', () => {
  for (const status of [502, 503]) {
    it(`an upstream answering ${status} is retried once on another deployment; the client sees only the good answer`, async () => {
      const bad = await fakeH2Upstream((stream) => {
        stream.respond({ ':status': status, 'content-type': 'application/json' });
        stream.end('{"error":"overloaded"}');
      });
      const good = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 4 });
      const gw = await firstThenGood('bad', bad.url, good.port);
      const session = await h2connect(gw.urls[0] as string);
      try {
        await withRetries(async (events) => {
          const r = await h2request(session, PATH, copilotBody({ max_tokens: 4 }));
          assert.equal(r.status, 200);
          assert.match(r.body, /data: \[DONE\]/);
          assert.equal(bad.seen.length, 1);
          assert.equal(good.stats().requests, 1);
          assert.deepEqual(
            events.map((e) => [e.from, e.to, e.reason]),
            [['bad', 'good', `answered ${status}`]],
          );
        });
      } finally {
        session.close();
        await gw.close(100);
        await Promise.all([bad.close(), good.close()]);
      }
    });
  }

  it('a deployment that refuses connections: retried on another, the client sees 200', async () => {
    const good = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 4 });
    const gw = await firstThenGood('refusing', `h2c://127.0.0.1:${await deadPort()}`, good.port);
    const session = await h2connect(gw.urls[0] as string);
    try {
      await withRetries(async (events) => {
        const r = await h2request(session, PATH, copilotBody({ max_tokens: 4 }));
        assert.equal(r.status, 200, r.body);
        assert.match(r.body, /data: \[DONE\]/);
        assert.equal(good.stats().requests, 1);
        assert.deepEqual(
          events.map((e) => [e.from, e.to, e.reason]),
          [['refusing', 'good', 'GW_UPSTREAM_UNAVAILABLE']],
        );
      });
    } finally {
      session.close();
      await gw.close(100);
      await good.close();
    }
  });

  // GOAWAY naming the stream as processed (the server took it, then went away) and as not
  // processed (the transport first resends it on a new connection to the same server, which
  // goes away again): either way nothing reached the client yet, so another deployment answers.
  for (const processed of [true, false]) {
    it(`GOAWAY before the response (stream ${processed ? '' : 'not '}processed): retried on another deployment, the client sees 200`, async () => {
      const leaving = await fakeH2Upstream((stream) => {
        const session = stream.session;
        if (session === undefined) return;
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, processed ? stream.id : 0);
        setTimeout(() => session.destroy(), 10);
      });
      const good = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 4 });
      const gw = await firstThenGood('leaving', leaving.url, good.port);
      const session = await h2connect(gw.urls[0] as string);
      try {
        await withRetries(async (events) => {
          const r = await h2request(session, PATH, copilotBody({ max_tokens: 4 }));
          assert.equal(r.status, 200, r.body);
          assert.match(r.body, /data: \[DONE\]/);
          assert.ok(leaving.seen.length >= 1);
          assert.equal(good.stats().requests, 1);
          assert.deepEqual(
            events.map((e) => [e.from, e.to]),
            [['leaving', 'good']],
          );
        });
      } finally {
        session.close();
        await gw.close(100);
        await Promise.all([leaving.close(), good.close()]);
      }
    });
  }

  it('a completion cut after its first byte is never retried: the client gets an SSE error event', async () => {
    const cutter = await fakeH2Upstream((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      stream.write(sseChunk('def '));
      setTimeout(() => stream.session?.destroy(), 20); // the model server crashes mid-stream
    });
    const good = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 4 });
    const gw = await firstThenGood('cutter', cutter.url, good.port);
    const session = await h2connect(gw.urls[0] as string);
    try {
      await withRetries(async (events) => {
        const r = await h2request(session, PATH, copilotBody());
        assert.equal(r.status, 200);
        assert.match(r.body, /^data: .*"text":"def "/);
        assert.match(r.body, /GW_UPSTREAM_CLOSED/);
        assert.equal(good.stats().requests, 0, 'no second attempt after the first byte');
        assert.equal(events.length, 0);
      });
    } finally {
      session.close();
      await gw.close(100);
      await Promise.all([cutter.close(), good.close()]);
    }
  });

  it("a 4xx answer is the request's fault: not retried, not counted for or against the deployment", async () => {
    const picky = await fakeH2Upstream((stream) => {
      stream.respond({ ':status': 400, 'content-type': 'application/json' });
      stream.end('{"error":"bad"}');
    });
    const gw = await gatewayFor({
      deployments: [{ name: 'picky', url: picky.url }],
      models: [{ name: 'default', deployments: ['picky'] }],
      routing: { health: { active: { enabled: false } } },
    });
    const session = await h2connect(gw.urls[0] as string);
    try {
      const health = gw.registry.deployments[0]!.health;
      // Four failures in a row (of five that eject)...
      for (let i = 0; i < 4; i++) health.onFailure(performance.now(), 'test');
      // ...then a 400: counted as a success it would restart the run, and one more failure
      // would not eject.
      const r = await h2request(session, PATH, copilotBody());
      assert.equal(r.status, 400);
      assert.match(r.body, /GW_UPSTREAM_ERROR/);
      assert.equal(picky.seen.length, 1, 'not retried');
      health.onFailure(performance.now(), 'test');
      assert.equal(health.state, 'ejected');
      assert.equal(gw.router.stats().retriesTotal, 0);
    } finally {
      session.close();
      await gw.close(100);
      await picky.close();
    }
  });

  it('retries stop at the budget: beyond it the client gets the upstream error', async () => {
    const bad = await fakeH2Upstream((stream) => {
      stream.respond({ ':status': 503 });
      stream.end();
    });
    const alsoBad = await fakeH2Upstream((stream) => {
      stream.respond({ ':status': 503 });
      stream.end();
    });
    const gw = await gatewayFor({
      deployments: [
        { name: 'a', url: bad.url },
        { name: 'b', url: alsoBad.url },
      ],
      models: [{ name: 'default', deployments: ['a', 'b'] }],
      routing: {
        affinity: { enabled: false },
        health: { active: { enabled: false }, passive: { consecutiveFailures: 1000, minRequests: 1000 } },
        retries: { budgetRatio: 0, minPerSecond: 0.3 }, // 3 retries per 10 s
      },
    });
    const session = await h2connect(gw.urls[0] as string);
    try {
      const results = [];
      for (let i = 0; i < 6; i++) results.push(await h2request(session, PATH, copilotBody()));
      assert.ok(results.every((r) => r.status === 503 && r.body.includes('GW_NO_CAPACITY')));
      assert.equal(bad.seen.length + alsoBad.seen.length, 6 + 3, 'six first attempts, three retries');
      assert.equal(gw.router.stats().retriesRefusedTotal, 3);
    } finally {
      session.close();
      await gw.close(100);
      await Promise.all([bad.close(), alsoBad.close()]);
    }
  });
});
