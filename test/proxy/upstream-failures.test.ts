import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, describe, it } from 'node:test';
import { copilotBody, h2connect, h2request, sseEvents } from '../helpers/clients.js';
import {
  deadPort,
  fakeH1Upstream,
  fakeH2Upstream,
  sseChunk,
  type H2Behaviour,
} from '../helpers/fake-upstream.js';
import { gatewayTo } from '../helpers/gateway.js';

const PATH = '/v1/engines/default/completions';

describe('upstream failures give the client a clear error and the gateway keeps serving', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  /** A fake HTTP/2 upstream with `behaviour`, a gateway in front of it, and a client session. */
  async function through(behaviour: H2Behaviour, extra: Parameters<typeof gatewayTo>[1] = {}) {
    // Health probes (GET) are answered here: each test's behaviour sees only completions, in order.
    const up = await fakeH2Upstream((stream, headers, body) => {
      if (headers[':method'] !== 'GET') return behaviour(stream, headers, body);
      stream.respond({ ':status': 200 });
      stream.end();
    });
    cleanups.push(() => up.close());
    const gw = await gatewayTo(up.url, extra);
    cleanups.push(() => gw.close(100));
    const session = await h2connect(gw.urls[0] as string);
    cleanups.push(() => session.close());
    return { up, session };
  }

  it('upstream down (connection refused) → 502 GW_UPSTREAM_UNAVAILABLE as JSON, for h2c and http upstreams', async () => {
    const port = await deadPort();
    for (const scheme of ['h2c', 'http']) {
      const gw = await gatewayTo(`${scheme}://127.0.0.1:${port}`);
      cleanups.push(() => gw.close(100));
      const session = await h2connect(gw.urls[0] as string);
      cleanups.push(() => session.close());
      const res = await h2request(session, PATH, copilotBody());
      assert.equal(res.status, 502, `${scheme}: ${res.body}`);
      assert.equal(
        (JSON.parse(res.body) as { error: { code: string } }).error.code,
        'GW_UPSTREAM_UNAVAILABLE',
      );
      // A second try while backing off fails fast with the same code (no hang).
      const again = await h2request(session, PATH, copilotBody());
      assert.equal(again.status, 502);
      assert.ok(again.endedAt - again.startedAt < 1000);
    }
  });

  it('upstream answers 500 → 502 GW_UPSTREAM_ERROR, upstream body not forwarded; next request works', async () => {
    let calls = 0;
    const { session } = await through((stream) => {
      calls++;
      if (calls === 1) {
        stream.respond({ ':status': 500, 'content-type': 'application/json' });
        stream.end('{"error":"internal secret detail: prompt was function add1"}');
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      stream.end(sseChunk('x = 1', 'stop') + 'data: [DONE]\n\n');
    });
    const res = await h2request(session, PATH, copilotBody());
    assert.equal(res.status, 502);
    const err = (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'GW_UPSTREAM_ERROR');
    assert.match(err.message, /500/);
    assert.doesNotMatch(res.body, /secret detail|add1/);
    const ok = await h2request(session, PATH, copilotBody());
    assert.equal(ok.status, 200);
    assert.equal(sseEvents(ok.body).at(-1), '[DONE]');
  });

  it('a 200 that is not SSE or JSON (a misrouted URL) → 502 GW_UPSTREAM_BAD_RESPONSE', async () => {
    const { session } = await through((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'text/html' });
      stream.end('<html>login</html>');
    });
    const res = await h2request(session, PATH, copilotBody());
    assert.equal(res.status, 502);
    assert.equal(
      (JSON.parse(res.body) as { error: { code: string } }).error.code,
      'GW_UPSTREAM_BAD_RESPONSE',
    );
    assert.doesNotMatch(res.body, /login/);
  });

  it('upstream 429/503 → 503 GW_NO_CAPACITY with Retry-After', async () => {
    const { session } = await through((stream) => {
      stream.respond({ ':status': 429 });
      stream.end();
    });
    const res = await h2request(session, PATH, copilotBody());
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'GW_NO_CAPACITY');
  });

  it('upstream resets the stream mid-stream → SSE error event after the data, stream ends; session reused', async () => {
    let calls = 0;
    const { up, session } = await through((stream) => {
      calls++;
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      if (calls === 1) {
        stream.write(sseChunk('const a'));
        // destroy() sends RST_STREAM(INTERNAL_ERROR); close(code) would first end the stream cleanly.
        setTimeout(() => stream.destroy(new Error('boom')), 20);
        return;
      }
      stream.end(sseChunk(' = 1;', 'stop') + 'data: [DONE]\n\n');
    });
    const res = await h2request(session, PATH, copilotBody());
    assert.equal(res.status, 200);
    const events = sseEvents(res.body);
    assert.equal(events.length, 2, res.body);
    const last = events[1] as { error: { code: string } };
    assert.equal(last.error.code, 'GW_UPSTREAM_CLOSED');
    assert.ok(!events.includes('[DONE]'));
    const ok = await h2request(session, PATH, copilotBody());
    assert.equal(ok.status, 200);
    assert.equal(up.connections, 1, 'a stream reset does not cost the upstream session');
  });

  it('upstream drops the whole connection mid-stream → SSE error event; the next request reconnects', async () => {
    let calls = 0;
    const { up, session } = await through((stream) => {
      calls++;
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      if (calls === 1) {
        stream.write(sseChunk('let'));
        setTimeout(() => stream.session?.destroy(), 20);
        return;
      }
      stream.end(sseChunk(' b', 'stop') + 'data: [DONE]\n\n');
    });
    const res = await h2request(session, PATH, copilotBody());
    const events = sseEvents(res.body);
    assert.equal((events.at(-1) as { error: { code: string } }).error.code, 'GW_UPSTREAM_CLOSED');
    const ok = await h2request(session, PATH, copilotBody());
    assert.equal(ok.status, 200, ok.body);
    assert.equal(up.connections, 2);
  });

  it('HTTP/1.1 upstream closing mid-stream → SSE error event', async () => {
    const up = await fakeH1Upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseChunk('def'));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    cleanups.push(() => up.close());
    const gw = await gatewayTo(up.url);
    cleanups.push(() => gw.close(100));
    const session = await h2connect(gw.urls[0] as string);
    cleanups.push(() => session.close());
    const res = await h2request(session, PATH, copilotBody());
    assert.equal(res.status, 200);
    assert.equal(
      (sseEvents(res.body).at(-1) as { error: { code: string } }).error.code,
      'GW_UPSTREAM_CLOSED',
    );
  });

  it('upstream that accepts but never answers → 504 GW_DEADLINE_EXCEEDED at the deadline, upstream stream reset', async () => {
    let resets = 0;
    const { session } = await through(
      (stream) => {
        stream.on('close', () => {
          if (stream.rstCode === 8) resets++;
        });
      },
      { limits: { requestTimeoutMs: 300 } },
    );
    const res = await h2request(session, PATH, copilotBody());
    assert.equal(res.status, 504);
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'GW_DEADLINE_EXCEEDED');
    assert.ok(res.endedAt - res.startedAt >= 290 && res.endedAt - res.startedAt < 2000);
    const deadline = Date.now() + 2000;
    while (resets === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(resets, 1, 'the upstream saw RST_STREAM(CANCEL)');
  });
});

export type { http2 };
