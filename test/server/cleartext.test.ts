import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createCleartextServer } from '../../src/server/cleartext.js';
import { listen } from '../../src/util/listen.js';
import { h1request, h2connect, h2request, sleep } from '../helpers/clients.js';

describe('one cleartext port speaks h2c prior-knowledge and HTTP/1.1', () => {
  let server: net.Server;
  let url: string;
  let port: number;

  before(async () => {
    const h2 = http2.createServer();
    h2.on('stream', (stream, headers) => {
      stream.respond({ ':status': 200 });
      stream.end(`h2 ${headers[':path']}`);
    });
    const h1 = http.createServer((req, res) => res.end(`h1 ${req.url}`));
    server = createCleartextServer(h2, h1, { firstByteTimeoutMs: 200 });
    port = await listen(server, 0, '127.0.0.1');
    url = `http://127.0.0.1:${port}`;
  });
  after(() => server.close());

  it('routes by the first bytes: the HTTP/2 preface goes to h2, anything else to HTTP/1.1', async () => {
    const session = await h2connect(url);
    const a = await h2request(session, '/a', undefined, {}, 'GET');
    const b = await h2request(session, '/b', undefined, {}, 'GET');
    session.close();
    assert.deepEqual([a.body, b.body], ['h2 /a', 'h2 /b']);
    const c = await h1request(url, '/c', undefined, {}, 'GET');
    assert.equal(c.body, 'h1 /c');
  });

  // Regression: the 24-byte preface can arrive split over several TCP segments.
  it('a preface split byte by byte is still recognised as HTTP/2', async () => {
    const reply = await new Promise<Buffer>((resolve) => {
      const s = net.connect(port, '127.0.0.1', async () => {
        const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        for (const byte of preface) {
          s.write(Buffer.from([byte]));
          await sleep(1);
        }
        s.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // empty SETTINGS
      });
      s.once('data', (d: Buffer) => {
        s.destroy();
        resolve(d);
      });
    });
    assert.equal(reply[3], 4, 'the server answered with an HTTP/2 SETTINGS frame');
  });

  it('a connection that sends nothing is closed after firstByteTimeoutMs', async () => {
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('close', () => resolve());
      s.on('error', () => {});
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 2000, `closed after ${elapsed} ms`);
  });
});
