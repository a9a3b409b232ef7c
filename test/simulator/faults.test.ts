import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { connectH2, h1Open, h1Request, h2Request, parseSse } from './helpers.js';

const ENGINE_PATH = '/v1/engines/copilot-codex/completions';
const BODY = { prompt: 'const x1 = 1;\nconst x2 = 2;\n', max_tokens: 50 };

describe('simulator fault hooks', () => {
  let sim: Simulator;
  let session: http2.ClientHttp2Session;
  before(async () => {
    sim = await startSimulator({ ttftMs: 1, tokenMs: 2 });
    session = await connectH2(sim.url);
  });
  after(async () => {
    session.close();
    await sim.close();
  });

  test('x-sim-status answers that status with a JSON error before any token', async () => {
    sim.resetStats();
    const res = await h2Request(session, {
      path: ENGINE_PATH,
      headers: { 'x-sim-status': '500' },
      body: BODY,
    });
    assert.equal(res.status, 500);
    assert.equal(res.headers['content-type'], 'application/json');
    const body = JSON.parse(res.body) as { error: { message: string; type: string } };
    assert.equal(body.error.type, 'server_error');
    assert.match(body.error.message, /x-sim-status: 500/);
    const limited = await h1Request(sim.url, {
      path: ENGINE_PATH,
      headers: { 'x-sim-status': '429' },
      body: BODY,
    });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '1');
    const stats = sim.stats();
    assert.equal(stats.errors, 2);
    assert.equal(stats.tokens_generated, 0);
  });

  test('x-sim-close-after on h2 resets the stream with INTERNAL_ERROR after N tokens', async () => {
    // Pins down: the reset must arrive without END_STREAM first (stream.close(code) would end cleanly).
    sim.resetStats();
    const res = await h2Request(session, {
      path: ENGINE_PATH,
      headers: { 'x-sim-close-after': '3' },
      body: BODY,
    });
    assert.equal(res.status, 200);
    assert.equal(res.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
    const { chunks, done } = parseSse(res.body);
    assert.equal(done, false, 'no [DONE] after an abrupt close');
    assert.equal(chunks.length, 3);
    const stats = sim.stats();
    assert.deepEqual([stats.errors, stats.completed, stats.cancelled, stats.active], [1, 0, 0, 0]);
    const next = await h2Request(session, { path: ENGINE_PATH, body: { prompt: 'x', max_tokens: 2 } });
    assert.equal(parseSse(next.body).done, true, 'the session survives a stream reset');
  });

  test('x-sim-close-after on HTTP/1.1 destroys the connection after N tokens', async () => {
    sim.resetStats();
    const { body, error } = await new Promise<{ body: string; error: string }>((resolve) => {
      let received = '';
      const req = h1Open(
        sim.url,
        { path: ENGINE_PATH, headers: { 'x-sim-close-after': '2' }, body: BODY },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            received += d;
          });
          res.on('error', (err) =>
            resolve({ body: received, error: (err as NodeJS.ErrnoException).code ?? '' }),
          );
          res.on('end', () => resolve({ body: received, error: 'ended cleanly' }));
        },
      );
      req.on('error', (err) => resolve({ body: received, error: (err as NodeJS.ErrnoException).code ?? '' }));
    });
    assert.equal(error, 'ECONNRESET');
    const { chunks, done } = parseSse(body);
    assert.equal(done, false);
    assert.equal(chunks.length, 2);
    assert.equal(sim.stats().errors, 1);
  });

  test('x-sim-ttft-ms overrides the time to first token', async () => {
    const slow = await startSimulator({ ttftMs: 5_000, tokenMs: 0 });
    try {
      const started = performance.now();
      const res = await h1Request(slow.url, {
        path: ENGINE_PATH,
        headers: { 'x-sim-ttft-ms': '0' },
        body: { prompt: 'x', max_tokens: 3 },
      });
      assert.equal(parseSse(res.body).done, true);
      assert.ok(performance.now() - started < 1_000);
    } finally {
      await slow.close();
    }
  });

  test('a malformed x-sim-* header is refused with 400, not ignored', async () => {
    const res = await h2Request(session, {
      path: ENGINE_PATH,
      headers: { 'x-sim-close-after': 'soon' },
      body: BODY,
    });
    assert.equal(res.status, 400);
    assert.match(res.body, /x-sim-close-after/);
  });
});
