import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { DecodeBatch, type BatchMember } from '../../src/simulator/batch.js';
import { startSimulator } from '../../src/simulator/index.js';
import { connectH2, h2Open, h2Request, parseSse, sleep, waitFor } from './helpers.js';

/** A member that takes `steps` steps `everyMs` apart, recording when each ran. */
function member(batch: DecodeBatch, firstInMs: number, everyMs: number, steps: number) {
  const ranAt: number[] = [];
  const m: BatchMember & { ranAt: number[]; dueAt: number } = {
    dueAt: performance.now() + firstInMs,
    ranAt,
    advance() {
      ranAt.push(performance.now());
      if (ranAt.length >= steps) {
        m.dueAt = Infinity;
        batch.delete(m);
      } else {
        m.dueAt += everyMs;
      }
    },
  };
  batch.add(m);
  return m;
}

test('one batch runs each member at its own due times, never before them', async () => {
  const batch = new DecodeBatch();
  const started = performance.now();
  const fast = member(batch, 2, 2, 5);
  const slow = member(batch, 15, 10, 3);
  await waitFor(() => batch.size === 0, 'both members to finish');
  assert.equal(fast.ranAt.length, 5);
  assert.equal(slow.ranAt.length, 3);
  fast.ranAt.forEach((at, k) => assert.ok(at - started >= 2 + 2 * k - 1, `fast step ${k} ran early`));
  slow.ranAt.forEach((at, k) => assert.ok(at - started >= 15 + 10 * k - 1, `slow step ${k} ran early`));
});

test('a member waiting for something else (due at Infinity) is skipped, and deleting one stops it', async () => {
  const batch = new DecodeBatch();
  const paused = member(batch, 1, 1, 100);
  paused.dueAt = Infinity;
  const removed = member(batch, 1, 1, 100);
  batch.delete(removed);
  const running = member(batch, 1, 1, 3);
  await waitFor(() => running.ranAt.length === 3, 'the running member');
  await sleep(5);
  assert.deepEqual([paused.ranAt.length, removed.ranAt.length], [0, 0]);
  paused.dueAt = performance.now();
  batch.wakeBy(paused.dueAt);
  await waitFor(() => paused.ranAt.length > 0, 'the resumed member');
  batch.delete(paused);
});

test('a reader that stops reading stalls only its own generation', async () => {
  // Pins down: with one decode loop for all generations, a full write buffer must not hold back the rest.
  const sim = await startSimulator({ ttftMs: 0, tokenMs: 0, maxTokens: 2000 });
  const stalled = http2.connect(sim.url, { settings: { initialWindowSize: 1024 } });
  stalled.on('error', () => {});
  const other = await connectH2(sim.url);
  try {
    const stuck = h2Open(stalled, {
      path: '/v1/engines/e/completions',
      body: { prompt: 'a', max_tokens: 2000 },
    });
    stuck.pause();
    await waitFor(() => sim.stats().tokens_generated > 0, 'the stalled generation to start');
    for (let i = 0; i < 3; i++) {
      const res = await h2Request(other, {
        path: '/v1/engines/e/completions',
        body: { prompt: 'x', max_tokens: 50 },
      });
      assert.equal(parseSse(res.body).chunks.length, 51);
    }
    const stats = sim.stats();
    assert.equal(stats.completed, 3);
    assert.equal(stats.active, 1, 'the stalled generation still holds its slot');
    stuck.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => sim.stats().cancelled === 1, 'the stalled generation to be cancelled');
    assert.equal(sim.stats().active, 0);
  } finally {
    stalled.destroy();
    other.close();
    await sim.close();
  }
});
