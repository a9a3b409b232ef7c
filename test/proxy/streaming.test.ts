import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import {
  copilotBody,
  h1request,
  h2connect,
  h2request,
  sseEvents,
  sseText,
  TEST_CERT,
  TEST_KEY,
} from '../helpers/clients.js';
import { gatewayFor } from '../helpers/gateway.js';

const PATH = '/v1/engines/copilot-codex/completions';

describe('streaming: SSE bytes go out as they arrive, over h2c, TLS h2 and HTTP/1.1', () => {
  let sim: Simulator;
  let gw: Gateway;
  let cleartext: string;
  let tls: string;

  before(async () => {
    // A slow upstream: 12 tokens, 40 ms apart, so buffering would be obvious.
    sim = await startSimulator({ ttftMs: 5, tokenMs: 40, slots: 16, maxTokens: 12 });
    gw = await gatewayFor({
      listeners: [
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port: 0, tls: { certFile: TEST_CERT, keyFile: TEST_KEY } },
      ],
      deployments: [{ name: 'sim', url: `h2c://127.0.0.1:${sim.port}` }],
      models: [{ name: 'default', aliases: ['copilot-codex'], deployments: ['sim'] }],
    });
    [cleartext, tls] = gw.urls as [string, string];
  });
  after(async () => {
    await gw.close(100);
    await sim.close();
  });

  for (const which of ['h2c', 'tls-h2'] as const) {
    it(`Copilot request over ${which} streams ≥ 2 chunks and [DONE]; the first arrives long before the end`, async () => {
      const session = await h2connect(which === 'h2c' ? cleartext : tls);
      try {
        const res = await h2request(session, PATH, copilotBody({ max_tokens: 12 }));
        assert.equal(res.status, 200, res.body);
        assert.match(String(res.headers['content-type']), /text\/event-stream/);
        assert.equal(res.headers['content-encoding'], undefined, 'SSE is never compressed');
        assert.ok(String(res.headers['x-request-id']).length > 0);
        // The per-request id travels never-indexed, so it does not churn the client's HPACK table.
        const neverIndexed = (res.headers as Record<symbol, string[] | undefined>)[http2.sensitiveHeaders];
        assert.ok(neverIndexed?.includes('x-request-id'), String(neverIndexed));
        const events = sseEvents(res.body);
        assert.ok(events.length >= 3, `got ${events.length} events`);
        assert.equal(events.at(-1), '[DONE]');
        assert.ok(res.chunks.length >= 2, `arrived in ${res.chunks.length} reads`);
        const first = (res.chunks[0] as { atMs: number }).atMs;
        const total = res.endedAt - res.startedAt;
        // The upstream needs ≥ 11 × 40 ms after its first token; a buffering proxy would deliver all at once.
        assert.ok(
          total - first >= 300,
          `first chunk at ${first.toFixed(1)} ms, end at ${total.toFixed(1)} ms`,
        );
        assert.ok(sseText(res.body).length > 0);
      } finally {
        session.close();
      }
    });
  }

  it('HTTP/1.1 over TLS (ALPN fallback) and cleartext HTTP/1.1 stream too', async () => {
    for (const url of [tls, cleartext]) {
      const res = await h1request(url, PATH, copilotBody({ max_tokens: 4 }));
      assert.equal(res.status, 200, res.body);
      assert.equal(sseEvents(res.body).at(-1), '[DONE]');
    }
  });

  it('OpenAI /v1/completions: streaming and non-streaming', async () => {
    const session = await h2connect(cleartext);
    try {
      const streamed = await h2request(
        session,
        '/v1/completions',
        JSON.stringify({
          model: 'default',
          prompt: 'let a = 1;\nlet b = 2;\nlet',
          max_tokens: 4,
          stream: true,
        }),
      );
      assert.equal(streamed.status, 200);
      assert.equal(sseEvents(streamed.body).at(-1), '[DONE]');
      const whole = await h2request(
        session,
        '/v1/completions',
        JSON.stringify({
          model: 'default',
          prompt: 'let a = 1;\nlet',
          max_tokens: 4,
          stream: false,
          suffix: '\n',
        }),
      );
      assert.equal(whole.status, 200, whole.body);
      assert.match(String(whole.headers['content-type']), /application\/json/);
      const json = JSON.parse(whole.body) as { choices: { text: string }[] };
      assert.equal(json.choices.length, 1);
    } finally {
      session.close();
    }
  });

  it('the upstream receives the mapped model and the client body otherwise untouched', async () => {
    const session = await h2connect(cleartext);
    try {
      const body = copilotBody({
        max_tokens: 2,
        nwo: 'octo/repo',
        extra: { language: 'go', trim_by_indentation: true },
      });
      await h2request(session, PATH, body);
      const seen = sim.lastRequest();
      assert.ok(seen !== undefined);
      assert.equal(seen.path, '/v1/completions');
      const sent = seen.body as Record<string, unknown>;
      assert.equal(sent.model, 'default');
      const { model: _model, ...rest } = sent;
      assert.deepEqual(rest, JSON.parse(body));
    } finally {
      session.close();
    }
  });

  it('healthz and readyz answer', async () => {
    const session = await h2connect(cleartext);
    try {
      const h = await h2request(session, '/healthz', undefined, {}, 'GET');
      assert.equal(h.status, 200);
      const r = await h2request(session, '/readyz', undefined, {}, 'GET');
      assert.equal(r.status, 200);
    } finally {
      session.close();
    }
  });
});
