// Pins down in-band errors (a model server that reports an error inside its stream after the
// 200): the client gets the gateway's own SSE error event with a stable code, never the server's
// text (it may echo the prompt), on every way an answer reaches the client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/server/gateway.js';
import { copilotBody, h2connect, h2request, sseEvents } from '../helpers/clients.js';
import { fakeH2Upstream, sseChunk, type FakeUpstream } from '../helpers/fake-upstream.js';
import { gatewayFor } from '../helpers/gateway.js';

const SECRET = 'def leaked_prompt_text';

describe('in-band upstream errors', () => {
  let upstream: FakeUpstream;
  const gateways: Record<string, Gateway> = {};

  before(async () => {
    upstream = await fakeH2Upstream((stream, headers) => {
      stream.respond({
        ':status': 200,
        'content-type': headers[':method'] === 'POST' ? 'text/event-stream' : 'text/plain',
      });
      if (headers[':method'] !== 'POST') return void stream.end();
      stream.write(sseChunk('ok '));
      setTimeout(() => {
        if (stream.destroyed) return;
        stream.end(
          `data: {"error":{"message":"context too long: ${SECRET}","type":"invalid_request_error"}}\n\n`,
        );
      }, 10);
    });
    for (const stopSequences of ['trust', 'enforce'] as const)
      gateways[stopSequences] = await gatewayFor({
        deployments: [{ name: 'up', url: upstream.url, stopSequences }],
        models: [{ name: 'default', deployments: ['up'] }],
      });
  });
  after(async () => {
    for (const gw of Object.values(gateways)) await gw.close(100);
    await upstream.close();
  });

  const cases = [
    ['passed through untouched (trust, no stop)', 'trust', copilotBody()],
    ['watched (enforce, with a stop)', 'enforce', copilotBody({ stop: ['\n\n\n'] })],
    [
      're-encoded (OpenAI client, not streaming)',
      'enforce',
      JSON.stringify({ model: 'default', prompt: 'x', stream: false }),
    ],
  ] as const;
  for (const [name, gw, body] of cases) {
    it(`${name}: GW_UPSTREAM_ERROR, and the server's text never reaches the client`, async () => {
      const session = await h2connect(gateways[gw]?.urls[0] as string);
      try {
        const path = body.includes('"model"') ? '/v1/completions' : '/v1/engines/default/completions';
        const res = await h2request(session, path, body);
        assert.ok(!res.body.includes(SECRET), res.body);
        assert.match(res.body, /GW_UPSTREAM_ERROR/);
        if (res.status === 200) {
          const last = sseEvents(res.body).at(-1) as { error?: { code?: string } };
          assert.equal(last.error?.code, 'GW_UPSTREAM_ERROR');
        } else assert.equal(res.status, 502);
      } finally {
        session.close();
      }
    });
  }
});
