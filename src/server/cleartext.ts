import net from 'node:net';
import type http from 'node:http';
import type http2 from 'node:http2';

/** The 24-byte connection preface every HTTP/2 prior-knowledge client sends first (RFC 9113 §3.4). */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface CleartextOptions {
  /** Close a connection that has not sent its first bytes within this time (idle/slowloris guard). */
  firstByteTimeoutMs: number;
}

/**
 * One cleartext port that speaks both h2c prior-knowledge and HTTP/1.1: the first bytes decide.
 * Node's http2 server has no cleartext allowHTTP1, and local tools (curl, IDE plugins over http://)
 * use either, so we peek at the preface and hand the socket to the matching server.
 */
export function createCleartextServer(
  h2: http2.Http2Server,
  h1: http.Server,
  options: CleartextOptions,
): net.Server {
  return net.createServer({ noDelay: true }, function sniffProtocol(socket) {
    let seen: Buffer | undefined;
    const timer = setTimeout(() => socket.destroy(), options.firstByteTimeoutMs);
    timer.unref();

    const cleanup = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
    };
    const onError = (): void => {
      cleanup();
      socket.destroy();
    };
    const onData = (chunk: Buffer): void => {
      seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && seen.length < H2_PREFACE.length) return; // a prefix of the preface: wait for the rest
      cleanup();
      socket.pause();
      socket.unshift(seen);
      if (isH2) {
        // http2 core feeds the socket's already-buffered bytes to nghttp2 itself and then reads
        // the handle natively; resuming the JS stream here would steal frames from it.
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', onError);
  });
}
