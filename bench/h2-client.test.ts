// The bench's raw h2c client against node:http2's server: pins down the protocol edges it relies
// on (HPACK :status decoding, flow control both ways, RST_STREAM, cancel). Run:
//   npx tsc -p tsconfig.json && node --test dist/bench/h2-client.test.js
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { encodeHeaders, RawH2Connection, type StreamHandler } from './h2-client.js';

type Behaviour = (stream: http2.ServerHttp2Stream, body: Buffer) => void;
let behaviour: Behaviour = () => {};
let server: http2.Http2Server;
let port = 0;

before(async () => {
  server = http2.createServer();
  server.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => behaviour(stream, Buffer.concat(chunks)));
    stream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => server.close());

interface Outcome {
  status: number;
  body: Buffer;
  /** 'end', or the error kind. */
  end: string;
}

function exchange(
  conn: RawH2Connection,
  body: Buffer,
  extra?: Buffer,
): { handler: StreamHandler; done: Promise<Outcome> } {
  let handler: StreamHandler | undefined;
  const done = new Promise<Outcome>((resolve) => {
    let status = -1;
    const parts: Buffer[] = [];
    handler = {
      onStatus: (s) => (status = s),
      onData: (buf, start, end) => parts.push(Buffer.from(buf.subarray(start, end))),
      onEnd: () => resolve({ status, body: Buffer.concat(parts), end: 'end' }),
      onError: (kind) => resolve({ status, body: Buffer.concat(parts), end: kind }),
    };
    conn.request(body, handler, extra);
  });
  if (handler === undefined) throw new Error('unreachable: the executor runs at once');
  return { handler, done };
}

async function connect(path = '/v1/engines/default/completions'): Promise<RawH2Connection> {
  const conn = new RawH2Connection('127.0.0.1', port, path);
  await conn.ready;
  return conn;
}

void test('request headers and body arrive as sent; SSE body and end come back', async () => {
  let seen: http2.IncomingHttpHeaders | undefined;
  server.once('stream', (_s, headers) => (seen = headers));
  behaviour = (stream, body) => {
    stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
    stream.write('data: {"text":"a"}\n\n');
    stream.end(`data: ${body.length}\n\ndata: [DONE]\n\n`);
  };
  const conn = await connect();
  for (let i = 0; i < 3; i++) {
    // The second and third requests use indexed header fields: the server must decode them the same.
    const out = await exchange(conn, Buffer.from('{"prompt":"x"}')).done;
    assert.equal(out.status, 200);
    assert.equal(out.end, 'end');
    assert.equal(out.body.toString(), 'data: {"text":"a"}\n\ndata: 14\n\ndata: [DONE]\n\n');
    assert.equal(seen?.[':method'], 'POST');
    assert.equal(seen?.[':path'], '/v1/engines/default/completions');
    assert.equal(seen?.['content-type'], 'application/json');
    assert.equal(seen?.[':authority'], `127.0.0.1:${port}`);
  }
  conn.close();
});

// The affinity workload sends each editor session's id on its requests: a per-request header must
// arrive intact beside the connection's indexed ones, first request and later ones alike.
void test('per-request headers (encodeHeaders) arrive on every request; the indexed headers still decode', async () => {
  const seen: http2.IncomingHttpHeaders[] = [];
  const onStream = (_s: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    seen.push(headers);
  };
  server.on('stream', onStream);
  behaviour = (stream) => stream.respond({ ':status': 200 }, { endStream: true });
  const conn = new RawH2Connection('127.0.0.1', port, '/v1/engines/default/completions', 'Bearer t');
  await conn.ready;
  const a = encodeHeaders({ 'vscode-sessionid': 'session-a' });
  const b = encodeHeaders({ 'vscode-sessionid': 'session-b', 'x-extra': '1' });
  for (const extra of [a, b, undefined, a])
    assert.equal((await exchange(conn, Buffer.from('{}'), extra).done).end, 'end');
  server.off('stream', onStream);
  assert.deepEqual(
    seen.map((h) => [h['vscode-sessionid'], h['x-extra'], h.authorization, h[':path']]),
    [
      ['session-a', undefined, 'Bearer t', '/v1/engines/default/completions'],
      ['session-b', '1', 'Bearer t', '/v1/engines/default/completions'],
      [undefined, undefined, 'Bearer t', '/v1/engines/default/completions'],
      ['session-a', undefined, 'Bearer t', '/v1/engines/default/completions'],
    ],
  );
  conn.close();
});

void test(':status is decoded from static entries and from plain or Huffman literals', async () => {
  const conn = await connect();
  for (const status of [200, 204, 400, 404, 429, 500, 502, 503, 504, 299]) {
    behaviour = (stream) => stream.respond({ ':status': status }, { endStream: true });
    const out = await exchange(conn, Buffer.from('{}')).done;
    assert.equal(out.status, status);
    assert.equal(out.end, 'end');
  }
  // A status the server already put in its dynamic table comes back as 0: "some non-200".
  behaviour = (stream) => stream.respond({ ':status': 503 }, { endStream: true });
  assert.equal((await exchange(conn, Buffer.from('{}')).done).status, 0);
  conn.close();
});

void test('responses larger than the default 64 KiB windows stream through', async () => {
  const big = Buffer.alloc(1024 * 1024, 0x61);
  behaviour = (stream) => {
    stream.respond({ ':status': 200 });
    stream.end(big);
  };
  const conn = await connect();
  const out = await exchange(conn, Buffer.from('{}')).done;
  assert.equal(out.end, 'end');
  assert.equal(out.body.length, big.length);
  conn.close();
});

void test('bodies beyond the connection send window wait for WINDOW_UPDATE', async () => {
  behaviour = (stream, body) => {
    stream.respond({ ':status': 200 });
    stream.end(String(body.length));
  };
  const conn = await connect();
  const body = Buffer.alloc(4000, 0x62);
  const outs = await Promise.all(Array.from({ length: 40 }, () => exchange(conn, body).done)); // 160 KB
  for (const out of outs) assert.equal(out.body.toString(), '4000');
  conn.close();
});

void test('RST_STREAM from the server ends the stream with its code; cancel resets ours', async () => {
  behaviour = (stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
  const conn = await connect();
  assert.equal((await exchange(conn, Buffer.from('{}')).done).end, 'reset_7');

  const closed = new Promise<number | undefined>((resolve) =>
    server.once('stream', (s) => s.on('close', () => resolve(s.rstCode))),
  );
  behaviour = (stream) => stream.respond({ ':status': 200 }); // never ends
  const pending = exchange(conn, Buffer.from('{}'));
  await new Promise((r) => setTimeout(r, 50));
  conn.cancel(pending.handler, 'timeout');
  assert.equal((await pending.done).end, 'timeout');
  assert.equal(await closed, http2.constants.NGHTTP2_CANCEL);
  conn.close();
});

void test("requests beyond the peer's MAX_CONCURRENT_STREAMS wait on the client, none is refused", async () => {
  const limited = http2.createServer({ settings: { maxConcurrentStreams: 2 } });
  let open = 0;
  let most = 0;
  let withSession = 0;
  limited.on('stream', (stream, headers) => {
    if (headers['vscode-sessionid'] === 's') withSession++;
    open++;
    most = Math.max(most, open);
    stream.on('close', () => open--);
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      setTimeout(() => stream.end('data: [DONE]\n\n'), 20);
    });
  });
  await new Promise<void>((resolve) => limited.listen(0, '127.0.0.1', resolve));
  const conn = new RawH2Connection('127.0.0.1', (limited.address() as AddressInfo).port, '/x');
  await conn.ready;
  // Requests that wait keep their own headers for when they are opened.
  const session = encodeHeaders({ 'vscode-sessionid': 's' });
  const pending = Array.from({ length: 8 }, () => exchange(conn, Buffer.from('{}'), session));
  const last = pending[7];
  assert.ok(last);
  conn.cancel(last.handler, 'timeout'); // still waiting: dropped locally, never sent
  const outs = await Promise.all(pending.map((p) => p.done));
  assert.deepEqual(
    outs.map((o) => o.end),
    ['end', 'end', 'end', 'end', 'end', 'end', 'end', 'timeout'],
  );
  assert.equal(most, 2);
  assert.equal(withSession, 7);
  conn.close();
  limited.close();
});
