// Pins down the request-body time limit (limits.bodyTimeoutMs): a client that sends headers and
// part of a body, then stalls, gets 408 GW_BODY_TIMEOUT on both protocols, nothing reaches the
// model server, and the limit stops applying once the body has arrived (a completion that
// streams for longer than the body limit is not cut).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/server/gateway.js';
import { copilotBody, h2connect, h2request } from '../helpers/clients.js';
import { fakeH2Upstream, sseChunk, type FakeUpstream } from '../helpers/fake-upstream.js';
import { gatewayTo, recordRequests } from '../helpers/gateway.js';

const BODY_LIMIT_MS = 300;

describe('request body time limit', () => {
  let upstream: FakeUpstream;
  let gw: Gateway;
  let upstreamRequests = 0;
  const url = (): string => gw.urls[0] as string;

  before(async () => {
    upstream = await fakeH2Upstream((stream, headers) => {
      // Health probes (GET) are not completions.
      if (headers[':method'] === 'POST') upstreamRequests++;
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      // Streams for longer than the body limit: only the request deadline applies by then.
      stream.write(sseChunk('a', null));
      setTimeout(() => {
        if (stream.destroyed) return;
        stream.end(sseChunk('b', 'stop') + 'data: [DONE]\n\n');
      }, BODY_LIMIT_MS * 2);
    });
    gw = await gatewayTo(upstream.url, { limits: { bodyTimeoutMs: BODY_LIMIT_MS } });
  });
  after(async () => {
    await gw.close(100);
    await upstream.close();
  });

  it('HTTP/2: a body that stalls gets 408 GW_BODY_TIMEOUT and never reaches the upstream', async () => {
    const before = upstreamRequests;
    const session = await h2connect(url());
    try {
      const req = session.request({
        ':method': 'POST',
        ':path': '/v1/engines/default/completions',
        'content-type': 'application/json',
      });
      req.write('{"prompt": "def f(');
      const started = performance.now();
      const [status, body] = await new Promise<[number, string]>((resolve, reject) => {
        let s = 0;
        let text = '';
        req.on('response', (h) => (s = Number(h[':status'])));
        req.setEncoding('utf8');
        req.on('data', (c: string) => (text += c));
        req.on('end', () => resolve([s, text]));
        req.on('error', reject);
      });
      const ms = performance.now() - started;
      assert.equal(status, 408, body);
      assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'GW_BODY_TIMEOUT');
      assert.ok(ms >= BODY_LIMIT_MS - 20 && ms < BODY_LIMIT_MS + 1000, `answered after ${ms.toFixed(0)} ms`);
      assert.equal(upstreamRequests, before, 'nothing was sent upstream');
      // The connection is still usable for other requests.
      const ok = await h2request(session, '/v1/engines/default/completions', copilotBody());
      assert.equal(ok.status, 200);
    } finally {
      session.close();
    }
  });

  it('HTTP/1.1: a body that stalls gets 408 GW_BODY_TIMEOUT with connection: close', async () => {
    const { port } = new URL(url());
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (answer += c));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(
      'POST /v1/engines/default/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
        'content-length: 100\r\n\r\n{"prompt": "de',
    );
    await closed;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /connection: close/i);
    assert.match(answer, /GW_BODY_TIMEOUT/);
  });

  it('a completion that streams for longer than the body limit is not cut by it', async () => {
    const rec = recordRequests();
    const session = await h2connect(url());
    try {
      const res = await h2request(session, '/v1/engines/default/completions', copilotBody());
      assert.equal(res.status, 200);
      assert.match(res.body, /data: \[DONE\]/);
      assert.equal(rec.ended.at(-1)?.outcome, 'ok');
    } finally {
      rec.stop();
      session.close();
    }
  });

  it('telemetry uploads are bounded by the same limit', async () => {
    const session = http2.connect(url());
    session.on('error', () => {});
    try {
      const req = session.request({ ':method': 'POST', ':path': '/telemetry' });
      req.write('[{"event":');
      const status = await new Promise<number>((resolve, reject) => {
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
      });
      assert.equal(status, 408);
      // Read the answer to its end: on Node 24 an unread stream keeps its session (and socket) open.
      req.resume();
      req.close();
    } finally {
      session.close();
    }
  });
});
