import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { after, describe, it } from 'node:test';
import { listen } from '../../src/util/listen.js';
import {
  copilotBody,
  h2connect,
  h2request,
  sseEvents,
  TEST_CERT,
  TEST_KEY,
  TEST_CA,
} from '../helpers/clients.js';
import { sseChunk } from '../helpers/fake-upstream.js';
import { gatewayFor } from '../helpers/gateway.js';

const STREAM = sseChunk('x', 'stop') + 'data: [DONE]\n\n';

describe('TLS upstreams', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('https:// upstream speaks HTTP/2 (ALPN h2) with a configured CA; ids and keys go never-indexed', async () => {
    let protocol = '';
    let neverIndexed: string[] = [];
    const server = http2.createSecureServer({ cert: TEST_CA, key: readFileSync(TEST_KEY) });
    server.on('stream', (stream, headers) => {
      protocol = stream.session?.alpnProtocol ?? '';
      // The completion's headers, not a health probe's (GET) that may come after it.
      if (headers[':method'] === 'POST')
        neverIndexed = (headers as Record<symbol, string[] | undefined>)[http2.sensitiveHeaders] ?? [];
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      stream.end(STREAM);
    });
    const port = await listen(server, 0, '127.0.0.1');
    cleanups.push(() => void server.close());
    const gw = await gatewayFor({
      deployments: [
        {
          name: 'tls',
          url: `https://localhost:${port}`,
          tls: { caFile: TEST_CERT },
          credential: { type: 'header', header: 'api-key', value: 'azure-test-key' },
        },
      ],
      models: [{ name: 'default', deployments: ['tls'] }],
    });
    cleanups.push(() => gw.close(100));
    const session = await h2connect(gw.urls[0] as string);
    cleanups.push(() => session.close());
    const res = await h2request(session, '/v1/engines/default/completions', copilotBody());
    assert.equal(res.status, 200, res.body);
    assert.equal(sseEvents(res.body).at(-1), '[DONE]');
    assert.equal(protocol, 'h2');
    assert.ok(
      neverIndexed.includes('api-key') && neverIndexed.includes('x-request-id'),
      String(neverIndexed),
    );
  });

  it('an untrusted certificate is refused (502), and protocol: h1 reaches an HTTPS/1.1-only server', async () => {
    const server = https.createServer({ cert: TEST_CA, key: readFileSync(TEST_KEY) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(STREAM);
    });
    const port = await listen(server, 0, '127.0.0.1');
    cleanups.push(() => {
      server.closeAllConnections();
      server.close();
    });
    const gw = await gatewayFor({
      deployments: [
        { name: 'untrusted', url: `https://localhost:${port}` },
        { name: 'h1', url: `https://localhost:${port}`, protocol: 'h1', tls: { caFile: TEST_CERT } },
        { name: 'no-h2', url: `https://localhost:${port}`, tls: { caFile: TEST_CERT } },
      ],
      models: [
        { name: 'untrusted', deployments: ['untrusted'] },
        { name: 'h1', deployments: ['h1'] },
        { name: 'no-h2', deployments: ['no-h2'] },
      ],
    });
    cleanups.push(() => gw.close(100));
    const session = await h2connect(gw.urls[0] as string);
    cleanups.push(() => session.close());
    const untrusted = await h2request(session, '/v1/engines/untrusted/completions', copilotBody());
    assert.equal(untrusted.status, 502);
    const ok = await h2request(session, '/v1/engines/h1/completions', copilotBody());
    assert.equal(ok.status, 200, ok.body);
    assert.equal(sseEvents(ok.body).at(-1), '[DONE]');
    // A server that cannot do h2 behind an https:// URL: a clear failure, not a hang.
    const noH2 = await h2request(session, '/v1/engines/no-h2/completions', copilotBody());
    assert.equal(noH2.status, 502);
    assert.equal(
      (JSON.parse(noH2.body) as { error: { code: string } }).error.code,
      'GW_UPSTREAM_UNAVAILABLE',
    );
  });
});
