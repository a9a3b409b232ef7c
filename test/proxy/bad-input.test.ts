import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/server/gateway.js';
import { copilotBody, h1request, h2connect, h2request, type Received } from '../helpers/clients.js';
import { fakeH2Upstream, sseChunk, type FakeUpstream } from '../helpers/fake-upstream.js';
import { gatewayTo } from '../helpers/gateway.js';

/** Asserts the one error shape: JSON, the code, a message, the request id. */
function assertError(res: Received, status: number, code: string): void {
  assert.equal(res.status, status, res.body);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = JSON.parse(res.body) as { error: { code: string; message: string; request_id: string } };
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 10, 'message says what to do');
  assert.ok(body.error.request_id.length > 0);
}

describe('bad input gets a clear 4xx with a stable code', () => {
  let upstream: FakeUpstream;
  let gw: Gateway;
  let session: http2.ClientHttp2Session;
  const url = (): string => gw.urls[0] as string;

  before(async () => {
    upstream = await fakeH2Upstream((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      stream.end(sseChunk('ok', 'stop') + 'data: [DONE]\n\n');
    });
    gw = await gatewayTo(upstream.url, { limits: { maxBodyBytes: 4096 } });
    session = await h2connect(url());
  });
  after(async () => {
    session.close();
    await gw.close(100);
    await upstream.close();
  });

  it('invalid JSON → 400 GW_INVALID_JSON', async () => {
    assertError(
      await h2request(session, '/v1/engines/default/completions', '{"prompt": '),
      400,
      'GW_INVALID_JSON',
    );
  });
  it('empty body → 400 GW_INVALID_JSON', async () => {
    assertError(await h2request(session, '/v1/engines/default/completions', ''), 400, 'GW_INVALID_JSON');
  });
  it('a JSON array instead of an object → 400 GW_INVALID_REQUEST', async () => {
    assertError(
      await h2request(session, '/v1/engines/default/completions', '[1,2]'),
      400,
      'GW_INVALID_REQUEST',
    );
  });
  it('wrong content type → 415 GW_UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await h2request(session, '/v1/engines/default/completions', copilotBody(), {
      'content-type': 'text/plain',
    });
    assertError(res, 415, 'GW_UNSUPPORTED_MEDIA_TYPE');
  });
  it('body over the size limit → 413 GW_BODY_TOO_LARGE (h2 and HTTP/1.1)', async () => {
    const big = copilotBody({ prompt: 'x'.repeat(10_000) });
    assertError(await h2request(session, '/v1/engines/default/completions', big), 413, 'GW_BODY_TOO_LARGE');
    assertError(await h1request(url(), '/v1/engines/default/completions', big), 413, 'GW_BODY_TOO_LARGE');
  });
  it('body over the limit without content-length (streamed) → 413', async () => {
    const res = await new Promise<Received>((resolve, reject) => {
      const req = session.request({
        ':method': 'POST',
        ':path': '/v1/engines/default/completions',
        'content-type': 'application/json',
      });
      const out: Received = { status: 0, headers: {}, body: '', chunks: [], startedAt: 0, endedAt: 0 };
      req.on('response', (h) => {
        out.status = Number(h[':status']);
        out.headers = h;
      });
      req.setEncoding('utf8');
      req.on('data', (d: string) => (out.body += d));
      req.on('end', () => resolve(out));
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write('x'.repeat(1000));
      req.end();
    });
    assertError(res, 413, 'GW_BODY_TOO_LARGE');
  });
  it('unknown engine → 404 GW_UNKNOWN_MODEL naming the known models', async () => {
    const res = await h2request(session, '/v1/engines/nope/completions', copilotBody());
    assertError(res, 404, 'GW_UNKNOWN_MODEL');
    assert.match(res.body, /default/);
  });
  it('unknown OpenAI model → 404 GW_UNKNOWN_MODEL', async () => {
    const res = await h2request(session, '/v1/completions', JSON.stringify({ model: 'gpt-9', prompt: 'x' }));
    assertError(res, 404, 'GW_UNKNOWN_MODEL');
  });
  it('missing prompt → 400 GW_INVALID_REQUEST naming the field', async () => {
    const res = await h2request(
      session,
      '/v1/engines/default/completions',
      JSON.stringify({ max_tokens: 5 }),
    );
    assertError(res, 400, 'GW_INVALID_REQUEST');
    assert.match(res.body, /prompt/);
  });
  it('OpenAI route without model → 400 naming the field', async () => {
    const res = await h2request(session, '/v1/completions', JSON.stringify({ prompt: 'x' }));
    assertError(res, 400, 'GW_INVALID_REQUEST');
    assert.match(res.body, /model/);
  });
  for (const [field, value] of [
    ['prompt', 42],
    ['max_tokens', 'ten'],
    ['max_tokens', 0],
    ['temperature', 7],
    ['top_p', -1],
    ['n', 100],
    ['stop', [1, 2]],
    ['stream', 'yes'],
    ['suffix', {}],
  ] as const) {
    it(`wrong type: ${field}=${JSON.stringify(value)} → 400 naming the field`, async () => {
      const res = await h2request(
        session,
        '/v1/engines/default/completions',
        copilotBody({ [field]: value }),
      );
      assertError(res, 400, 'GW_INVALID_REQUEST');
      assert.match(res.body, new RegExp(field));
    });
  }
  it('unknown fields are ignored, not rejected', async () => {
    const res = await h2request(
      session,
      '/v1/engines/default/completions',
      copilotBody({ brand_new_field: { a: 1 }, nwo: 'o/r' }),
    );
    assert.equal(res.status, 200);
  });
  it('unknown route → 404 GW_NOT_FOUND; wrong method → 405', async () => {
    assertError(await h2request(session, '/v2/whatever', undefined, {}, 'GET'), 404, 'GW_NOT_FOUND');
    assertError(await h2request(session, '/v1/engines//completions', copilotBody()), 404, 'GW_NOT_FOUND');
    assertError(
      await h2request(session, '/v1/completions', undefined, {}, 'GET'),
      405,
      'GW_METHOD_NOT_ALLOWED',
    );
  });
  it('none of the bad requests reached the upstream, and the gateway still serves', async () => {
    const before = upstream.seen.length;
    const res = await h2request(session, '/v1/engines/default/completions', copilotBody());
    assert.equal(res.status, 200);
    assert.equal(upstream.seen.length, before + 1);
  });
  it('a garbage HTTP/1.1 request line gets 400 and the port keeps serving', async () => {
    const net = await import('node:net');
    const u = new URL(url());
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(Number(u.port), u.hostname, () => s.write('HELLO\x00\x01 nonsense\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
    });
    assert.match(reply, /^HTTP\/1\.1 400/);
    const res = await h1request(url(), '/healthz', undefined, {}, 'GET');
    assert.equal(res.status, 200);
  });
});
