// The peer ghostwire is measured against: the pass-through proxy anyone would write in half an
// hour with node:http2's core stream API. It does no parsing, routing or validation, so it is the
// floor for "an HTTP/2 proxy in Node". Usage: node dist/bench/naive-proxy.js --port 0 --upstream URL
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string' }, upstream: { type: 'string' } } });
const upstreamUrl = values.upstream ?? 'http://127.0.0.1:8000';
const { NGHTTP2_CANCEL } = http2.constants;

let upstream = connectUpstream();
function connectUpstream(): http2.ClientHttp2Session {
  const session = http2.connect(upstreamUrl);
  session.on('error', () => {}); // a dead session is replaced on the next request
  return session;
}

const server = http2.createServer();
server.on('stream', function relay(down, headers) {
  if (upstream.closed || upstream.destroyed) upstream = connectUpstream();
  const { ':authority': _a, ':scheme': _s, ...forward } = headers; // the client session sets these
  const up = upstream.request(forward);
  down.pipe(up);
  up.on('response', (resHeaders) => {
    down.respond(resHeaders);
    up.pipe(down);
  });
  up.on('error', () =>
    down.headersSent ? down.close(NGHTTP2_CANCEL) : down.respond({ ':status': 502 }, { endStream: true }),
  );
  down.on('error', () => {});
  down.on('close', () => up.closed || up.close(NGHTTP2_CANCEL)); // client reset -> cancel upstream
});
server.listen(Number(values.port ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
