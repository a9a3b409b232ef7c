// The HAProxy peer of the gateway-overhead benchmark (bench/haproxy.ts) with the config the bench
// generates, against real sockets, so the harness cannot rot between benchmark runs: a streamed
// completion crosses it over h2c on both legs, the Authorization header reaches the upstream, and
// the answer is forwarded as it is produced (not buffered until the end). Skips, saying why, when
// haproxy is not installed (.ci/run installs the Debian package). Run:
//   npx tsc -p tsconfig.json && node --test dist/bench/haproxy.test.js
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { ensureHaproxy, haproxyConfig, type HaproxyService, startHaproxy } from './haproxy.js';
import { stop } from './processes.js';

const found = ensureHaproxy(() => {}, false);
const skip = 'missing' in found ? found.missing : false;
if (skip !== false) process.stderr.write(`haproxy.test: skipping the HAProxy harness tests: ${skip}\n`);

let sim: Simulator | undefined;
let haproxy: HaproxyService | undefined;
before(async () => {
  if ('missing' in found) return;
  sim = await startSimulator({ ttftMs: 0, tokenMs: 1, maxTokens: 8 });
  haproxy = await startHaproxy(found.bin, sim.url);
});
after(async () => {
  if (haproxy !== undefined) await stop(haproxy.child);
  await sim?.close();
});

/** One POST over a fresh h2c session; the body chunks as they arrived. */
async function post(
  url: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; chunks: string[] }> {
  const session = http2.connect(url);
  session.on('error', () => {});
  try {
    const req = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/json',
      ...headers,
    });
    const chunks: string[] = [];
    let status = 0;
    req.setEncoding('utf8');
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: string) => chunks.push(c));
    req.end(body);
    const timer = setTimeout(() => req.destroy(new Error('no answer within 10 s')), 10_000);
    await once(req, 'end');
    clearTimeout(timer);
    return { status, chunks };
  } finally {
    session.close();
  }
}

void test('the generated config is one HAProxy accepts: h2 on both sides, one thread', { skip }, () => {
  const text = haproxyConfig({ port: 18080, upstreamHost: '127.0.0.1', upstreamPort: 19000 });
  assert.match(text, /^\s+bind 127\.0\.0\.1:18080 proto h2$/m);
  assert.match(text, /^\s+server sim 127\.0\.0\.1:19000 proto h2$/m);
  assert.match(text, /^\s+nbthread 1$/m);
  assert.ok(haproxy !== undefined);
  assert.match(haproxy.config, /proto h2/);
});

void test(
  'a streamed completion crosses HAProxy over h2c; the Authorization header reaches the simulator',
  { skip },
  async () => {
    assert.ok(haproxy !== undefined && sim !== undefined);
    const body = JSON.stringify({ prompt: 'def fib(n):\n    ', max_tokens: 8, stream: true });
    const events = (chunks: string[]): number => chunks.join('').match(/^data: \{/gm)?.length ?? 0;
    const direct = await post(sim.url, '/v1/engines/default/completions', body);
    sim.resetStats();
    const res = await post(haproxy.url, '/v1/engines/default/completions', body, {
      authorization: 'Bearer bench-token',
    });
    assert.equal(res.status, 200);
    const text = res.chunks.join('');
    assert.ok(text.endsWith('data: [DONE]\n\n'), text.slice(-200));
    assert.ok(events(res.chunks) >= 8, 'an event per token at least');
    assert.equal(events(res.chunks), events(direct.chunks), 'the same events as straight from the simulator');
    assert.equal(sim.stats().completed, 1);
    assert.equal(sim.lastRequest()?.headers['authorization'], 'Bearer bench-token');
  },
);

// Proxy edge: HAProxy must speak HTTP/2 to the upstream (`proto h2`) and pass each DATA frame on
// as it comes. The upstream here is a bare node:http2 server (h2 only: an HTTP/1.1 request would
// fail) that sends one chunk, waits until the client has it, then ends the stream.
void test('HAProxy talks HTTP/2 upstream and forwards a chunk before the stream ends', { skip }, async () => {
  if ('missing' in found) return;
  const upstream = http2.createServer();
  let gotFirst: () => void = () => {};
  const firstArrived = new Promise<void>((r) => (gotFirst = r));
  const seen: { version: string; authorization: string | undefined }[] = [];
  upstream.on('request', (req, res) => {
    seen.push({ version: req.httpVersion, authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      const timer = setTimeout(() => res.end('data: late\n\n'), 5000);
      void firstArrived.then(() => {
        clearTimeout(timer);
        res.end('data: [DONE]\n\n');
      });
    });
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const port = (upstream.address() as AddressInfo).port;
  const proxy = await startHaproxy(found.bin, `http://127.0.0.1:${port}`);
  try {
    const session = http2.connect(proxy.url);
    session.on('error', () => {});
    const req = session.request({ ':method': 'POST', ':path': '/x', authorization: 'Bearer t' });
    req.setEncoding('utf8');
    const chunks: string[] = [];
    req.on('data', (c: string) => {
      chunks.push(c);
      if (chunks.length === 1) gotFirst();
    });
    req.end('{}');
    await once(req, 'end');
    session.close();
    assert.deepEqual(seen, [{ version: '2.0', authorization: 'Bearer t' }]);
    assert.equal(
      chunks.join(''),
      'data: first\n\ndata: [DONE]\n\n',
      'the first chunk arrived before the end',
    );
  } finally {
    await stop(proxy.child);
    upstream.close();
  }
});
