import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { CancelLog } from '../../src/simulator/cancel-log.js';
import { CANCEL_LOG_LIMIT, startSimulator, type CancelRecord } from '../../src/simulator/index.js';
import { connectH2, h1Open, h1Request, h2Open, h2ReadUntil, h2Request, sleep, waitFor } from './helpers.js';

const ENGINE_PATH = '/v1/engines/copilot-codex/completions';
const LONG = { prompt: 'const x1 = 1;\nconst x2 = 2;\n', max_tokens: 500 };

test('a reset request is logged with its x-request-id, when it was noticed and how old it was', async () => {
  // Pins down: the age is measured from the request's arrival to the moment the RST_STREAM is
  // noticed, on the same clock a client on this host uses (performance.timeOrigin + now()).
  const sim = await startSimulator({ ttftMs: 1, tokenMs: 5 });
  const session = await connectH2(sim.url);
  try {
    const sentAt = performance.timeOrigin + performance.now();
    const stream = h2Open(session, {
      path: ENGINE_PATH,
      body: LONG,
      headers: { 'x-request-id': 'req-cancel-1' },
    });
    await h2ReadUntil(stream, (t) => t.includes('"text"'));
    await sleep(60);
    const resetAt = performance.timeOrigin + performance.now();
    stream.close(http2.constants.NGHTTP2_NO_ERROR);
    await waitFor(() => sim.stats().cancelled === 1, 'the cancel to be counted');

    const stats = sim.stats();
    const age = stats.cancel_age_ms;
    assert.ok(age !== undefined);
    assert.equal(age.count, 1);
    const clientAge = resetAt - sentAt;
    assert.ok(
      age.p50 !== null && Math.abs(age.p50 - clientAge) < 15,
      `simulator age ${age.p50} ms, client ${clientAge} ms`,
    );
    assert.equal(age.p50, age.max);

    const res = await h2Request(session, { method: 'GET', path: '/stats/cancels' });
    assert.equal(res.status, 200);
    const { cancels } = JSON.parse(res.body) as { cancels: CancelRecord[] };
    assert.equal(cancels.length, 1);
    const [c] = cancels;
    assert.equal(c?.request_id, 'req-cancel-1');
    assert.ok(c !== undefined && c.at_ms >= resetAt - 1 && c.at_ms < resetAt + 50, `at_ms ${c?.at_ms}`);
    assert.equal(c?.age_ms, age.p50);
    assert.deepEqual(sim.cancels(), cancels);

    // A completed request is not a cancel; a reset clears the log.
    await h2Request(session, { path: ENGINE_PATH, body: { prompt: 'x', max_tokens: 2 } });
    assert.equal(sim.stats().cancel_age_ms?.count, 1);
    const reset = await h2Request(session, { method: 'POST', path: '/stats/reset' });
    assert.equal(reset.status, 200);
    assert.deepEqual(sim.cancels(), []);
    assert.deepEqual(sim.stats().cancel_age_ms, { count: 0, p50: null, p90: null, p99: null, max: null });
  } finally {
    session.close();
    await sim.close();
  }
});

test('an HTTP/1.1 close and a cancel while queued are logged too; no id is null', async () => {
  const sim = await startSimulator({ ttftMs: 1, tokenMs: 5, slots: 1 });
  try {
    // The one slot is busy with this h1 request; the h2 request behind it waits in the queue.
    const busy = h1Open(sim.url, { path: ENGINE_PATH, body: LONG }, () => {});
    busy.on('error', () => {});
    await waitFor(() => sim.stats().active === 1, 'the slot to be taken');
    const session = await connectH2(sim.url);
    const queued = h2Open(session, { path: ENGINE_PATH, body: LONG, headers: { 'x-request-id': 'queued' } });
    await waitFor(() => sim.stats().queued === 1, 'the second request to queue');
    queued.close(http2.constants.NGHTTP2_CANCEL);
    busy.destroy();
    await waitFor(() => sim.stats().cancelled === 2, 'both cancels to be counted');
    session.close();
    const ids = sim.cancels().map((c) => c.request_id);
    assert.deepEqual([...ids].sort(), [null, 'queued'].sort());
    const res = await h1Request(sim.url, { method: 'GET', path: '/stats/cancels' });
    assert.equal((JSON.parse(res.body) as { cancels: unknown[] }).cancels.length, 2);
    const wrong = await h1Request(sim.url, { method: 'POST', path: '/stats/cancels' });
    assert.equal(wrong.status, 405);
  } finally {
    await sim.close();
  }
});

test('the cancel log keeps the most recent records only, and its summary follows them', () => {
  const log = new CancelLog();
  const now = performance.now();
  for (let i = 0; i < CANCEL_LOG_LIMIT + 50; i++) log.record(`r${i}`, now - i, now);
  const records = log.records();
  assert.equal(records.length, CANCEL_LOG_LIMIT);
  assert.equal(records[0]?.request_id, 'r50', 'the oldest 50 were dropped');
  assert.equal(records.at(-1)?.request_id, `r${CANCEL_LOG_LIMIT + 49}`);
  const s = log.summary();
  assert.equal(s.count, CANCEL_LOG_LIMIT);
  assert.equal(s.max, CANCEL_LOG_LIMIT + 49);
  assert.ok(s.p50 !== null && Math.abs(s.p50 - (50 + CANCEL_LOG_LIMIT / 2)) <= 1, `p50 ${s.p50}`);
  assert.deepEqual(log.summary(), s, 'a second read is the same (cached)');
});
