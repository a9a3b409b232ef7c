import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import tls from 'node:tls';
import type { LimitsConfig, ListenerConfig } from '../config/schema.js';
import { createCleartextServer } from './cleartext.js';
import type { TlsFiles } from './tls-files.js';

/** Handlers for the two protocol engines; every listener feeds sockets into one pair of them. */
export interface ProtocolServers {
  h2: http2.Http2Server;
  h1: http.Server;
}

/** Creates the HTTP/2 and HTTP/1.1 engines with the configured limits, not bound to any port. */
export function createProtocolServers(limits: LimitsConfig): ProtocolServers {
  const h2 = http2.createServer({
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, enablePush: false },
  });
  const h1 = http.createServer({
    keepAliveTimeout: 65_000,
    headersTimeout: Math.min(limits.bodyTimeoutMs, 60_000),
    // Our own per-request deadline governs long streams; Node's whole-request timeout would cut them.
    requestTimeout: 0,
    noDelay: true,
  });
  h1.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  return { h2, h1 };
}

/**
 * A bindable server for one listener: TLS negotiates h2 or http/1.1 by ALPN; cleartext sniffs the
 * HTTP/2 preface. Either way the socket ends up in the shared protocol engines.
 */
export function createListenerServer(
  cfg: ListenerConfig,
  engines: ProtocolServers,
  limits: LimitsConfig,
  files: TlsFiles | undefined,
): net.Server {
  if (cfg.tls === undefined || files === undefined) {
    return createCleartextServer(engines.h2, engines.h1, { firstByteTimeoutMs: limits.firstByteTimeoutMs });
  }
  const server = tls.createServer({
    cert: files.cert,
    key: files.key,
    ALPNProtocols: ['h2', 'http/1.1'],
    handshakeTimeout: limits.firstByteTimeoutMs,
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    if (socket.alpnProtocol === 'h2') engines.h2.emit('connection', socket);
    else engines.h1.emit('connection', socket);
  });
  server.on('tlsClientError', () => {
    // A failed handshake (scanner, wrong CA) is the client's problem; the socket is already gone.
  });
  return server;
}
