// Pins down: the cancel timing loadgen reports is what the model server saw. Real processes on
// 127.0.0.1 — `ghostwire simulate`, `ghostwire serve --upstream h2c://…` in front of it, and
// `ghostwire loadgen --url … --key … --stats-url …` — then loadgen's own numbers and its per-request
// log are compared with the simulator's counters and its /stats/cancels, joined by x-request-id.
// Same host, same clock (performance.timeOrigin + now() in every process).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CallRecord } from '../../src/loadgen/recorder.js';
import type { LoadgenResult } from '../../src/loadgen/result.js';
import { quantile } from '../../src/loadgen/summary-stats.js';
import type { CancelRecord, SimulatorStats } from '../../src/simulator/index.js';
import { h1Request } from '../simulator/helpers.js';
import { runCli, startCli, type Running } from '../helpers/spawn.js';

const KEY = 'gw_agreement-test-key';

test('loadgen cancels agree with the simulator: count, request ids and age within a few ms', async () => {
  const running: Running[] = [];
  try {
    const sim = await startCli(['simulate', '--port', '0']);
    running.push(sim);
    const gw = await startCli(['serve', '--port', '0', '--upstream', sim.url.replace(/^http:/, 'h2c:')], {
      GHOSTWIRE_DEV_KEY: KEY,
    });
    running.push(gw);
    await h1Request(sim.url, { method: 'POST', path: '/stats/reset' });

    const dir = mkdtempSync(join(tmpdir(), 'gw-loadgen-'));
    const logFile = join(dir, 'requests.ndjson');
    const res = await runCli(
      [
        'loadgen',
        '--url',
        gw.url,
        '--key',
        KEY,
        '--stats-url',
        sim.url,
        '--developers',
        '12',
        '--duration-s',
        '3',
        '--json',
        '--log',
        logFile,
      ],
      30_000,
    );
    assert.equal(res.code, 0, res.stderr);
    const result = JSON.parse(res.stdout) as LoadgenResult;
    const records = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as CallRecord);
    const stats = JSON.parse(
      (await h1Request(sim.url, { method: 'GET', path: '/stats' })).body,
    ) as SimulatorStats;
    const simCancels = (
      JSON.parse((await h1Request(sim.url, { method: 'GET', path: '/stats/cancels' })).body) as {
        cancels: CancelRecord[];
      }
    ).cancels;

    // Counts: every request loadgen sent reached the simulator (no retries, no refusals), and it
    // counted as cancelled exactly the requests loadgen gave up on, less any that never got there.
    const clientCancels = result.cancelled.total;
    assert.ok(clientCancels >= 20, `only ${clientCancels} cancels: the run says nothing`);
    assert.equal(result.errors.total, 0, JSON.stringify(result.errors));
    assert.equal(stats.requests, result.requests);
    assert.equal(result.gpu?.cancelled, stats.cancelled, 'loadgen read the same counter');
    const byId = new Map(records.map((r) => [r.id, r]));
    for (const c of simCancels) {
      const r = c.request_id === null ? undefined : byId.get(c.request_id);
      assert.ok(
        r !== undefined && (r.outcome === 'cancelled' || r.outcome === 'unfinished'),
        `the simulator saw a cancel loadgen did not make: ${JSON.stringify(c)} ${JSON.stringify(r)}`,
      );
    }
    assert.equal(simCancels.length, stats.cancelled);
    assert.ok(stats.cancelled <= clientCancels + result.unfinished);
    const joined = records.filter(
      (r) => r.outcome === 'cancelled' && simCancels.some((c) => c.request_id === r.id),
    );
    assert.ok(
      joined.length >= 0.95 * clientCancels,
      `${joined.length} of ${clientCancels} client cancels reached the simulator`,
    );
    assert.equal(result.gpu?.joined, joined.length);
    assert.equal(stats.tokens_after_cancel, result.gpu?.tokens_after_cancel);

    // Timing: a cancel's age at the simulator (arrival → it noticed) against loadgen's (sent →
    // cancelled), request by request. They differ by the request's trip in minus the cancel's trip
    // in: a millisecond or two through a gateway on this host.
    const simById = new Map(simCancels.map((c) => [c.request_id, c]));
    const diffs = joined
      .map((r) => {
        const c = simById.get(r.id) as CancelRecord;
        return c.age_ms - (r.settledAtMs - r.sentAtMs);
      })
      .sort((a, b) => a - b);
    const trips = joined
      .map((r) => (simById.get(r.id) as CancelRecord).at_ms - r.settledAtMs)
      .sort((a, b) => a - b);
    const q = (xs: number[], p: number): number => quantile(xs, p) ?? Number.NaN;
    const detail = `age differences p10 ${q(diffs, 0.1).toFixed(2)} p50 ${q(diffs, 0.5).toFixed(2)} p90 ${q(diffs, 0.9).toFixed(2)} ms; cancel → simulator p50 ${q(trips, 0.5).toFixed(2)} p90 ${q(trips, 0.9).toFixed(2)} ms`;
    assert.ok(Math.abs(q(diffs, 0.5)) <= 3, detail);
    assert.ok(q(diffs, 0.1) >= -5 && q(diffs, 0.9) <= 5, detail);
    assert.ok(q(trips, 0.5) >= 0 && q(trips, 0.5) <= 5, detail);
    // The summaries agree too: the simulator's own cancel_age_ms and loadgen's "cancelled after".
    const simP50 = stats.cancel_age_ms?.p50 ?? Number.NaN;
    const clientP50 = result.latency_ms.cancel_age.p50 ?? Number.NaN;
    assert.ok(Math.abs(simP50 - clientP50) <= 5, `p50 age: simulator ${simP50} ms, loadgen ${clientP50} ms`);
    assert.ok(
      Math.abs((result.gpu?.cancel_age_ms.p50 ?? Number.NaN) - clientP50) <= 5,
      'loadgen’s own join reports the same',
    );
  } finally {
    for (const r of running.reverse()) await r.stop();
  }
});
