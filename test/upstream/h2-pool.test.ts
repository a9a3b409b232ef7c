import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import type { GatewayError } from '../../src/errors/gateway-error.js';
import type { UpstreamHandler } from '../../src/upstream/dispatcher.js';
import { resolveEndpoint } from '../../src/upstream/endpoint.js';
import { Http2Pool, type Http2PoolOptions } from '../../src/upstream/h2-pool.js';
import { listen } from '../../src/util/listen.js';
import { eventually, sleep } from '../helpers/clients.js';
import { deadPort, fakeH2Upstream, type FakeUpstream } from '../helpers/fake-upstream.js';

interface Outcome {
  status: number;
  body: string;
  error: GatewayError | undefined;
}

const OPTS: Http2PoolOptions = {
  maxSessions: 4,
  connectTimeoutMs: 1000,
  pingIntervalMs: 60_000,
  pingTimeoutMs: 1000,
};

function pool(url: string, opts: Partial<Http2PoolOptions> = {}): Http2Pool {
  const endpoint = resolveEndpoint({ url, protocol: 'auto' });
  return new Http2Pool(endpoint, { ...OPTS, ...opts });
}

/** Dispatches one request and collects what came back. */
function send(p: Http2Pool, signal: AbortSignal = new AbortController().signal): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { status: 0, body: '', error: undefined };
    const handler: UpstreamHandler = {
      onResponseStart: (status) => (out.status = status),
      onResponseData: (chunk) => {
        out.body += chunk.toString();
        return true;
      },
      onResponseEnd: () => resolve(out),
      onResponseError: (err) => {
        out.error = err;
        resolve(out);
      },
    };
    p.dispatch(
      { method: 'POST', path: '/v1/completions', headers: {}, body: Buffer.from('{}'), signal },
      handler,
    );
    signal.addEventListener('abort', () => resolve(out));
  });
}

/** An upstream that holds every stream open until release() is called. */
async function holdingUpstream(
  settings: http2.Settings = {},
): Promise<FakeUpstream & { release(): void; held: http2.ServerHttp2Stream[] }> {
  const held: http2.ServerHttp2Stream[] = [];
  const fake = await fakeH2Upstream((stream) => {
    stream.respond({ ':status': 200 });
    stream.write('x');
    held.push(stream);
  }, settings);
  return Object.assign(fake, {
    held,
    release() {
      for (const s of held.splice(0)) if (!s.destroyed) s.end('y');
    },
  });
}

describe('HTTP/2 upstream pool', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('multiplexes on one session up to the peer MAX_CONCURRENT_STREAMS, then opens another', async () => {
    const up = await holdingUpstream({ maxConcurrentStreams: 2 });
    cleanups.push(() => up.close());
    const p = pool(up.url);
    cleanups.push(() => p.destroy());
    // A first request lets the pool learn the peer's SETTINGS.
    const warm = send(p);
    await eventually(() => up.held.length === 1, 2000, 'warm-up stream');
    up.release();
    await warm;
    const pending = [send(p), send(p)];
    await eventually(() => up.held.length === 2, 2000, 'two held streams');
    assert.equal(up.connections, 1, 'two streams share one session');
    const third = send(p);
    await eventually(() => up.held.length === 3, 2000, 'third stream');
    assert.equal(up.connections, 2, 'the third stream needed a second session');
    up.release();
    const results = await Promise.all([...pending, third]);
    assert.ok(results.every((r) => r.status === 200 && r.body === 'xy'));
  });

  it('with every session full, requests wait for a free stream; a full queue is GW_NO_CAPACITY; a cancelled waiter never goes out', async () => {
    const up = await holdingUpstream({ maxConcurrentStreams: 1 });
    cleanups.push(() => up.close());
    const p = pool(up.url, { maxSessions: 1, maxQueued: 2 });
    cleanups.push(() => p.destroy());
    const warm = send(p);
    await eventually(() => up.held.length === 1, 2000, 'warm-up stream');
    up.release();
    await warm;
    const first = send(p);
    await eventually(() => up.held.length === 1, 2000, 'held');
    const waiting = send(p);
    const ac = new AbortController();
    const abandoned = send(p, ac.signal);
    assert.equal(p.stats().queued, 2);
    const overflow = await send(p);
    assert.equal(overflow.error?.code, 'GW_NO_CAPACITY');
    ac.abort();
    await abandoned;
    assert.equal(p.stats().queued, 1, 'the cancelled waiter left the queue');
    up.release(); // frees the slot: the waiting request goes out
    assert.equal((await first).status, 200);
    await eventually(() => up.held.length === 1, 2000, 'the waiter got the slot');
    up.release();
    assert.equal((await waiting).body, 'xy');
    assert.equal(up.seen.length, 3, 'warm-up, first and the waiter; never the cancelled one');
  });

  it('GOAWAY: the session is drained (in-flight stream finishes) and the next request opens a new one', async () => {
    const up = await holdingUpstream();
    cleanups.push(() => up.close());
    const p = pool(up.url);
    cleanups.push(() => p.destroy());
    const inflight = send(p);
    await eventually(() => up.held.length === 1, 2000, 'held');
    (up.held[0] as http2.ServerHttp2Stream).session?.goaway(0, 1);
    await sleep(20);
    const next = send(p);
    await eventually(() => up.held.length === 2, 2000, 'second stream');
    assert.equal(up.connections, 2);
    up.release();
    assert.equal((await inflight).body, 'xy', 'the stream in flight at GOAWAY finished');
    assert.equal((await next).status, 200);
  });

  it('cancel sends RST_STREAM(CANCEL) on that stream only; the session stays', async () => {
    const up = await holdingUpstream();
    cleanups.push(() => up.close());
    const p = pool(up.url);
    cleanups.push(() => p.destroy());
    const ac = new AbortController();
    const cancelled = send(p, ac.signal);
    const kept = send(p);
    await eventually(() => up.held.length === 2, 2000, 'held');
    const codes: (number | undefined)[] = [];
    (up.held[0] as http2.ServerHttp2Stream).on('close', function (this: http2.ServerHttp2Stream) {
      codes.push(this.rstCode);
    });
    ac.abort();
    await cancelled;
    await eventually(() => codes.length === 1, 2000, 'upstream saw the reset');
    assert.equal(codes[0], 8, 'RST_STREAM with CANCEL (8)');
    up.release();
    assert.equal((await kept).body, 'xy');
    assert.equal(up.connections, 1);
    assert.equal(p.stats().active, 0);
  });

  // Regression: GOAWAY(NO_ERROR) with a last-stream-id refuses later streams (RST 7); they were
  // never processed, so the pool sends them again on a fresh session instead of failing them.
  it('a stream refused by GOAWAY is retried transparently on a new session', async () => {
    let n = 0;
    const up = await fakeH2Upstream((stream) => {
      n++;
      if (n === 2) {
        // Refuse this stream: say only stream 1 was processed.
        stream.session?.goaway(0, 1);
        return;
      }
      stream.respond({ ':status': 200 });
      stream.end(`ok${n}`);
    });
    cleanups.push(() => up.close());
    const p = pool(up.url);
    cleanups.push(() => p.destroy());
    assert.equal((await send(p)).body, 'ok1');
    const second = await send(p);
    assert.equal(second.error, undefined, String(second.error?.message));
    assert.equal(second.body, 'ok3');
    assert.equal(p.stats().retriesTotal, 1);
    assert.equal(up.connections, 2);
  });

  it('cancels spend the reset budget: the session is retired gracefully before the upstream would GOAWAY', async () => {
    const up = await holdingUpstream();
    cleanups.push(() => up.close());
    const p = pool(up.url, { resetBurst: 10, resetPerSecond: 0 });
    cleanups.push(() => p.destroy());
    const survivor = send(p);
    const cancels = Array.from({ length: 6 }, () => new AbortController());
    const cancelled = cancels.map((ac) => send(p, ac.signal));
    await eventually(() => up.held.length === 7, 2000, 'seven held streams');
    assert.equal(up.connections, 1);
    for (const ac of cancels) ac.abort();
    await Promise.all(cancelled);
    assert.equal(p.stats().rotationsTotal, 1, 'retired after spending half the budget');
    const next = send(p);
    await eventually(() => up.held.length >= 8, 2000, 'a new stream');
    assert.equal(up.connections, 2, 'new requests go to a fresh session');
    up.release();
    assert.equal((await survivor).body, 'xy', 'the stream in flight on the retired session finished');
    assert.equal((await next).status, 200);
  });

  it('PING keepalive: a peer that stops answering is dropped after pingTimeoutMs', async () => {
    // A minimal HTTP/2 peer: sends SETTINGS, acks the client's, then ignores everything (PINGs too).
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // SETTINGS, empty
      socket.write(Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0])); // SETTINGS ACK
      socket.on('data', () => {});
    });
    const port = await listen(server, 0, '127.0.0.1');
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const p = pool(`h2c://127.0.0.1:${port}`, { pingIntervalMs: 50, pingTimeoutMs: 100 });
    cleanups.push(() => p.destroy());
    const ac = new AbortController();
    const req = send(p, ac.signal);
    await eventually(() => p.stats().connections === 1, 1000, 'connected');
    await eventually(() => p.stats().connections === 0, 2000, 'silent session dropped');
    const out = await req;
    assert.equal(out.error?.code, 'GW_UPSTREAM_UNAVAILABLE', 'the stream on it fails with a clear code');
  });

  it('reconnect backoff: a dead endpoint fails fast without a connect storm, and recovers', async () => {
    const port = await deadPort();
    const p = pool(`h2c://127.0.0.1:${port}`);
    cleanups.push(() => p.destroy());
    const first = await send(p);
    assert.equal(first.error?.code, 'GW_UPSTREAM_UNAVAILABLE');
    assert.equal(p.stats().backingOff, true);
    const before = p.stats().connectsTotal;
    const fast = await Promise.all(Array.from({ length: 20 }, () => send(p)));
    assert.ok(fast.every((r) => r.error?.code === 'GW_UPSTREAM_UNAVAILABLE'));
    assert.equal(p.stats().connectsTotal, before, 'no new connection attempts while backing off');
    // Bring the endpoint up on that port; after the backoff, requests succeed again.
    const up = await fakeH2Upstream((stream) => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    cleanups.push(() => up.close());
    const p2 = pool(up.url, { backoffBaseMs: 50, backoffMaxMs: 100 });
    cleanups.push(() => p2.destroy());
    assert.equal((await send(p2)).body, 'ok');
  });
});
