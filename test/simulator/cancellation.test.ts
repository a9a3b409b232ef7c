import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { connectH2, h1Open, h2Open, h2ReadUntil, h2Request, parseSse, sleep, waitFor } from './helpers.js';

const ENGINE_PATH = '/v1/engines/copilot-codex/completions';
const LONG = { prompt: 'const x1 = 1;\nconst x2 = 2;\n', max_tokens: 500 };
const TOKEN_MS = 10;

async function withSimulator(
  opts: Parameters<typeof startSimulator>[0],
  body: (sim: Simulator) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator(opts);
  try {
    await body(sim);
  } finally {
    await sim.close();
  }
}

/** After a cancel: counted once, at most one wasted token, slot free, and no token produced later. */
async function assertGenerationStopped(sim: Simulator): Promise<void> {
  await waitFor(() => sim.stats().cancelled === 1, 'cancelled to reach 1');
  const stats = sim.stats();
  assert.ok(stats.tokens_after_cancel <= 1, `tokens_after_cancel ${stats.tokens_after_cancel}`);
  assert.equal(stats.active, 0, 'the slot is released');
  assert.equal(stats.completed, 0);
  const produced = stats.tokens_generated;
  await sleep(TOKEN_MS * 5);
  assert.equal(sim.stats().tokens_generated, produced, 'no timer keeps generating');
  assert.equal(sim.stats().cancelled, 1, 'counted once');
}

/** The single slot serves the next request to completion. */
async function assertSlotServesNext(sim: Simulator, session: http2.ClientHttp2Session): Promise<void> {
  const next = await h2Request(session, { path: ENGINE_PATH, body: { prompt: 'x', max_tokens: 3 } });
  assert.equal(next.status, 200);
  assert.equal(parseSse(next.body).done, true);
  assert.equal(sim.stats().completed, 1);
}

test('h2 RST_STREAM(CANCEL) mid-stream stops the generation and frees the slot; the session lives on', async () => {
  await withSimulator({ ttftMs: 1, tokenMs: TOKEN_MS, slots: 1 }, async (sim) => {
    const session = await connectH2(sim.url);
    try {
      const stream = h2Open(session, { path: ENGINE_PATH, body: LONG });
      await h2ReadUntil(stream, (t) => t.includes('"text"'));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await assertGenerationStopped(sim);
      await assertSlotServesNext(sim, session);
    } finally {
      session.close();
    }
  });
});

test('h2 RST_STREAM(NO_ERROR) counts as a cancel too', async () => {
  // Pins down: Copilot's language server resets streams with NO_ERROR (0), not CANCEL (8).
  await withSimulator({ ttftMs: 1, tokenMs: TOKEN_MS, slots: 1 }, async (sim) => {
    const session = await connectH2(sim.url);
    try {
      const stream = h2Open(session, { path: ENGINE_PATH, body: LONG });
      await h2ReadUntil(stream, (t) => t.includes('"text"'));
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
      await assertGenerationStopped(sim);
      await assertSlotServesNext(sim, session);
    } finally {
      session.close();
    }
  });
});

test('h2 session destroyed mid-stream cancels its generations', async () => {
  await withSimulator({ ttftMs: 1, tokenMs: TOKEN_MS, slots: 1 }, async (sim) => {
    const session = await connectH2(sim.url);
    const stream = h2Open(session, { path: ENGINE_PATH, body: LONG });
    await h2ReadUntil(stream, (t) => t.includes('"text"'));
    session.destroy();
    await assertGenerationStopped(sim);
    const fresh = await connectH2(sim.url);
    try {
      await assertSlotServesNext(sim, fresh);
    } finally {
      fresh.close();
    }
  });
});

test('HTTP/1.1 connection close mid-stream stops the generation and frees the slot', async () => {
  // Pins down: over HTTP/1.1 the only cancel signal is the TCP connection closing.
  await withSimulator({ ttftMs: 1, tokenMs: TOKEN_MS, slots: 1 }, async (sim) => {
    await new Promise<void>((resolve, reject) => {
      const req = h1Open(sim.url, { path: ENGINE_PATH, body: LONG }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
      });
    });
    await assertGenerationStopped(sim);
    const session = await connectH2(sim.url);
    try {
      await assertSlotServesNext(sim, session);
    } finally {
      session.close();
    }
  });
});

test('a request cancelled while queued leaves the queue and never generates (h2 and HTTP/1.1)', async () => {
  await withSimulator({ ttftMs: 1, tokenMs: 10, slots: 1 }, async (sim) => {
    const session = await connectH2(sim.url);
    try {
      const running = h2Request(session, { path: ENGINE_PATH, body: { prompt: 'x', max_tokens: 40 } });
      await waitFor(() => sim.stats().active === 1, 'the first request to hold the slot');

      const queuedH2 = h2Open(session, { path: ENGINE_PATH, body: LONG });
      let h1Closed = false;
      const queuedH1 = h1Open(sim.url, { path: ENGINE_PATH, body: LONG }, () => {
        assert.fail('a cancelled queued request must not get a response');
      });
      queuedH1.on('error', () => {});
      queuedH1.on('close', () => {
        h1Closed = true;
      });
      await waitFor(() => sim.stats().queued === 2, 'two queued requests');

      queuedH2.close(http2.constants.NGHTTP2_CANCEL);
      queuedH1.destroy();
      await waitFor(() => sim.stats().cancelled === 2 && h1Closed, 'both queued requests to be cancelled');
      assert.equal(sim.stats().queued, 0);

      const first = await running;
      assert.equal(parseSse(first.body).done, true);
      const stats = sim.stats();
      assert.equal(stats.completed, 1);
      assert.equal(stats.tokens_generated, 40, 'only the running request produced tokens');
      assert.equal(stats.tokens_after_cancel, 0);
    } finally {
      session.close();
    }
  });
});

test('close() destroys open sessions and stops their generations promptly', async () => {
  const sim = await startSimulator({ ttftMs: 1, tokenMs: TOKEN_MS });
  const session = await connectH2(sim.url);
  const stream = h2Open(session, { path: ENGINE_PATH, body: LONG });
  await h2ReadUntil(stream, (t) => t.includes('"text"'));
  const closedAt = performance.now();
  await sim.close();
  assert.ok(performance.now() - closedAt < 500);
  await new Promise((resolve) => (stream.closed ? resolve(undefined) : stream.once('close', resolve)));
  assert.equal(sim.stats().active, 0);
  assert.equal(sim.stats().cancelled, 1);
  session.destroy();
});
