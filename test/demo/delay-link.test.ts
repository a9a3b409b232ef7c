import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { startDelayLink, type DelayLink } from '../../src/demo/delay-link.js';

// The userspace delay link stands in for netem: these pin down what crosses it and when.

const DELAY_MS = 25;

/** A TCP server on a free port; `onSocket` gets each accepted socket. */
async function server(onSocket: (s: net.Socket) => void): Promise<{ port: number; close: () => void }> {
  const srv = net.createServer({ allowHalfOpen: true }, onSocket);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  return { port, close: () => srv.close() };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with the next chunk of data (as text). */
function nextData(s: net.Socket): Promise<string> {
  return new Promise((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
}

const links: DelayLink[] = [];
async function link(targetPort: number, delayMs = DELAY_MS): Promise<DelayLink> {
  const l = await startDelayLink({
    listenHost: '127.0.0.1',
    listenPort: 0,
    targetHost: '127.0.0.1',
    targetPort,
    delayMs,
  });
  links.push(l);
  return l;
}
after(async () => {
  await Promise.all(links.map((l) => l.close()));
});

describe('delay link', () => {
  it('delays each direction by the one-way delay; the first bytes also pay the handshake round trip', async () => {
    const echo = await server((s) => s.pipe(s));
    const l = await link(echo.port);
    const c = await connect(l.port);
    let t = performance.now();
    c.write('first');
    assert.equal(await nextData(c), 'first');
    const first = performance.now() - t;
    t = performance.now();
    c.write('second');
    assert.equal(await nextData(c), 'second');
    const second = performance.now() - t;
    c.destroy();
    echo.close();
    // Timers fire late on a busy machine, never early: lower bounds are exact, upper ones generous.
    assert.ok(first >= 4 * DELAY_MS - 2, `first round trip ${first} ms, expected ≥ ${4 * DELAY_MS}`);
    assert.ok(second >= 2 * DELAY_MS - 2, `round trip ${second} ms, expected ≥ ${2 * DELAY_MS}`);
    assert.ok(second < 2 * DELAY_MS + 150, `round trip ${second} ms`);
  });

  it('delivers every byte in order, also when the receiver is slow (4 MiB through a paused reader)', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    let received: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      void server((s) => {
        s.pause(); // the reader is slow: the link has to hold back the sender, not buffer without bound
        setTimeout(() => s.resume(), 200);
        s.on('data', (d: Buffer) => received.push(d));
        s.on('end', () => {
          s.end();
          resolve();
        });
      }).then(async (srv) => {
        const l = await link(srv.port, 2);
        const c = await connect(l.port);
        for (let off = 0; off < data.length; off += 64 * 1024) c.write(data.subarray(off, off + 64 * 1024));
        c.end();
        c.on('close', () => srv.close());
      });
    });
    await done;
    const got = Buffer.concat(received);
    received = [];
    assert.equal(got.length, data.length);
    assert.ok(got.equals(data), 'bytes differ');
  });

  it('passes a half-close on after the data before it; the other direction keeps flowing', async () => {
    let serverSawEndAt = 0;
    const srv = await server((s) => {
      s.on('data', () => undefined);
      s.on('end', () => {
        serverSawEndAt = performance.now();
        s.end('reply after your FIN');
      });
    });
    const l = await link(srv.port);
    const c = await connect(l.port);
    await new Promise((r) => setTimeout(r, 3 * DELAY_MS)); // past the handshake
    const t = performance.now();
    c.end('last words');
    let text = '';
    c.on('data', (d: Buffer) => (text += d.toString()));
    await new Promise<void>((resolve) => c.on('end', resolve));
    srv.close();
    assert.equal(text, 'reply after your FIN');
    assert.ok(serverSawEndAt - t >= DELAY_MS - 2, `FIN arrived after ${serverSawEndAt - t} ms`);
  });

  it('passes a reset on as a reset, one way later', async () => {
    const srv = await server((s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    const l = await link(srv.port);
    const c = await connect(l.port);
    c.write('hello');
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => c.once('error', resolve));
    srv.close();
    assert.equal(err.code, 'ECONNRESET');
  });

  it('a refused connect reaches the client as a reset one round trip after it connected', async () => {
    const gone = await server(() => undefined);
    gone.close(); // a port nobody listens on
    await new Promise((r) => setTimeout(r, 20));
    const l = await link(gone.port);
    const t = performance.now();
    const c = await connect(l.port);
    c.write('anyone there?');
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => c.once('error', resolve));
    const elapsed = performance.now() - t;
    assert.equal(err.code, 'ECONNRESET');
    assert.ok(elapsed >= 2 * DELAY_MS - 2, `reset after ${elapsed} ms`);
  });

  it('close() stops listening and resets open connections', async () => {
    const srv = await server((s) => {
      s.on('data', () => undefined);
      s.on('error', () => undefined); // the link resets this side too
    });
    const l = await startDelayLink({
      listenHost: '127.0.0.1',
      listenPort: 0,
      targetHost: '127.0.0.1',
      targetPort: srv.port,
      delayMs: 1,
    });
    const c = await connect(l.port);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(l.connections, 1);
    const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
    c.on('error', () => undefined);
    await l.close();
    await closed;
    await assert.rejects(connect(l.port), { code: 'ECONNREFUSED' });
    srv.close();
  });
});
