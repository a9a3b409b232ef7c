import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startSimulator } from '../../src/simulator/index.js';
import { h2Open, parseSse, sleep, waitFor } from './helpers.js';

test('a reader that stops reading pauses generation at the write buffer; reading again finishes it', async () => {
  // Pins down: h2 flow control reaches the generator (write() false → wait for drain), not unbounded buffering.
  const sim = await startSimulator({ ttftMs: 0, tokenMs: 0, maxTokens: 2000 });
  // A tiny receive window makes the server's stream buffer fill after a few KiB of events.
  const session = http2.connect(sim.url, { settings: { initialWindowSize: 1024 } });
  session.on('error', () => {});
  try {
    const stream = h2Open(session, {
      path: '/v1/engines/e/completions',
      body: { prompt: 'a', max_tokens: 2000 },
    });
    stream.pause();
    await waitFor(() => sim.stats().tokens_generated > 0, 'generation to start');
    await sleep(50);
    const stalled = sim.stats();
    assert.equal(stalled.active, 1);
    assert.ok(
      stalled.tokens_generated < 2000,
      `generation should wait for the reader, got ${stalled.tokens_generated}`,
    );
    await sleep(30);
    assert.equal(
      sim.stats().tokens_generated,
      stalled.tokens_generated,
      'no tokens while the reader is stalled',
    );

    let body = '';
    stream.on('data', (d: string) => {
      body += d;
    });
    stream.resume();
    await new Promise((resolve) => stream.once('close', resolve));
    const { chunks, done } = parseSse(body);
    assert.equal(done, true);
    assert.equal(chunks.length, 2001);
    assert.equal(sim.stats().completed, 1);
  } finally {
    session.close();
    await sim.close();
  }
});
