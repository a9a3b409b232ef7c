import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startSimulator, type SimulatorStats } from '../../src/simulator/index.js';
import { connectH2, h2Open, h2Request, parseSse, waitFor } from './helpers.js';

const ENGINE_PATH = '/v1/engines/copilot-codex/completions';

test('slots=2: five concurrent requests never run more than two at once; the rest queue', async () => {
  const sim = await startSimulator({ ttftMs: 2, tokenMs: 3, slots: 2 });
  const session = await connectH2(sim.url);
  try {
    let maxActive = 0;
    let maxQueued = 0;
    const sampler = setInterval(() => {
      const s = sim.stats();
      maxActive = Math.max(maxActive, s.active);
      maxQueued = Math.max(maxQueued, s.queued);
    }, 1);
    const replies = await Promise.all(
      Array.from({ length: 5 }, () =>
        h2Request(session, { path: ENGINE_PATH, body: { prompt: 'abc', max_tokens: 10 } }),
      ),
    );
    clearInterval(sampler);
    for (const r of replies) assert.equal(parseSse(r.body).done, true);
    assert.equal(maxActive, 2);
    assert.ok(maxQueued >= 2, `queued at most ${maxQueued}`);
    const stats = sim.stats();
    // The peaks are kept where the gauges change, so they never miss what a sampler saw.
    assert.equal(stats.peak_active, 2);
    assert.ok(stats.peak_queued >= maxQueued && stats.peak_queued <= 3, `peak_queued ${stats.peak_queued}`);
    assert.equal(stats.completed, 5);
    assert.equal(stats.tokens_generated, 50);
    assert.equal(stats.active, 0);
    assert.equal(stats.queued, 0);
  } finally {
    session.close();
    await sim.close();
  }
});

test('queued requests get the slot in arrival order', async () => {
  const sim = await startSimulator({ ttftMs: 1, tokenMs: 5, slots: 1 });
  const session = await connectH2(sim.url);
  try {
    const order: string[] = [];
    const run = async (name: string): Promise<void> => {
      const stream = h2Open(session, { path: ENGINE_PATH, body: { prompt: name, max_tokens: 10 } });
      stream.once('data', () => order.push(name));
      await new Promise((resolve) => stream.once('close', resolve));
    };
    const all: Promise<void>[] = [];
    for (const [i, name] of ['a', 'b', 'c', 'd'].entries()) {
      all.push(run(name));
      await waitFor(() => sim.stats().requests === i + 1, `${name} to arrive`);
    }
    await Promise.all(all);
    assert.deepEqual(order, ['a', 'b', 'c', 'd']);
  } finally {
    session.close();
    await sim.close();
  }
});

test('a full queue answers 503 with retry-after, counted as rejected', async () => {
  const sim = await startSimulator({ ttftMs: 1, tokenMs: 5, slots: 1, queueLimit: 1 });
  const session = await connectH2(sim.url);
  try {
    // The first request holds the only slot until it is reset below, so the queue stays full.
    const holder = h2Open(session, { path: ENGINE_PATH, body: { prompt: 'x', max_tokens: 256 } });
    await waitFor(() => sim.stats().active === 1, 'the slot to be taken');
    const second = h2Request(session, { path: ENGINE_PATH, body: { prompt: 'x', max_tokens: 3 } });
    await waitFor(() => sim.stats().queued === 1, 'one queued');
    const third = await h2Request(session, { path: ENGINE_PATH, body: { prompt: 'x', max_tokens: 3 } });
    assert.equal(third.status, 503);
    assert.equal(third.headers['retry-after'], '1');
    assert.equal(third.headers['content-type'], 'application/json');
    const error = (JSON.parse(third.body) as { error: { type: string; message: string } }).error;
    assert.equal(error.type, 'server_error');
    assert.ok(error.message.length > 0);

    holder.close(http2.constants.NGHTTP2_CANCEL);
    assert.equal(parseSse((await second).body).done, true, 'the queued request runs once the slot frees');
    const stats = sim.stats();
    assert.deepEqual([stats.requests, stats.rejected, stats.cancelled, stats.completed], [3, 1, 1, 1]);
  } finally {
    session.close();
    await sim.close();
  }
});

test('peak_active/peak_queued in /stats: high-water marks; POST /stats/reset restarts them from the current levels', async () => {
  const sim = await startSimulator({ ttftMs: 0, tokenMs: 5, slots: 1 });
  const session = await connectH2(sim.url);
  try {
    const holder = h2Open(session, { path: ENGINE_PATH, body: { prompt: 'a', max_tokens: 256 } });
    await waitFor(() => sim.stats().active === 1, 'the slot to be taken');
    const waiters = [1, 2].map(() =>
      h2Open(session, { path: ENGINE_PATH, body: { prompt: 'b', max_tokens: 1 } }),
    );
    await waitFor(() => sim.stats().queued === 2, 'two queued');
    waiters[0]?.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => sim.stats().queued === 1, 'one left the queue');
    const read = async (): Promise<SimulatorStats> =>
      JSON.parse((await h2Request(session, { method: 'GET', path: '/stats' })).body) as SimulatorStats;
    let stats = await read();
    assert.deepEqual([stats.active, stats.queued, stats.peak_active, stats.peak_queued], [1, 1, 1, 2]);

    await h2Request(session, { method: 'POST', path: '/stats/reset' });
    stats = await read();
    assert.deepEqual(
      [stats.peak_active, stats.peak_queued],
      [1, 1],
      'still running and waiting: still counted',
    );

    holder.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => sim.stats().active === 0, 'idle');
    await h2Request(session, { method: 'POST', path: '/stats/reset' });
    stats = await read();
    assert.deepEqual([stats.peak_active, stats.peak_queued], [0, 0]);
  } finally {
    session.close();
    await sim.close();
  }
});
