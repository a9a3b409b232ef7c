// The cache affinity benchmark's own arithmetic and checks (bench/affinity-bench.ts), without
// starting any process: the two gateway configs, the shape of the workload, the checks that fail a
// run, and the table. Run:
//   npx tsc -p tsconfig.json && node --test dist/bench/affinity-bench.test.js
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../src/config/load.js';
import type { SimulatorStats } from '../src/simulator/index.js';
import {
  type AffinityBenchSettings,
  type AffinityRun,
  checkRun,
  DEFAULTS,
  gatewayConfig,
  hitRate,
  parseSettings,
  renderMarkdown,
  shapeProblem,
  shares,
  summaryLine,
} from './affinity-bench.js';
import type { LoadResult } from './load.js';

const SETTINGS: AffinityBenchSettings = { ...DEFAULTS, pin: false, json: undefined };
const SIMS = ['http://127.0.0.1:9001', 'http://127.0.0.1:9002', 'http://127.0.0.1:9003'];

function sim(completed: number, hits: number): SimulatorStats {
  return {
    requests: completed,
    completed,
    cancelled: 0,
    tokens_generated: completed * 8,
    tokens_after_cancel: 0,
    active: 0,
    queued: 0,
    peak_active: 4,
    peak_queued: 0,
    rejected: 0,
    errors: 0,
    prefix_cache_hits: hits,
    prefix_cache_misses: completed - hits,
  };
}

const latency = (p50: number, p99: number): LoadResult['ttfb'] => ({ p50, p90: p99, p99, max: p99 });

/** A sound run: 2400 requests (8 s × 300/s) spread over three simulators. */
function run(affinity: boolean, perSim: [number, number][]): AffinityRun {
  const sims = perSim.map(([completed, hits]) => sim(completed, hits));
  const ok = sims.reduce((a, x) => a + x.completed, 0);
  const hits = sims.reduce((a, x) => a + x.prefix_cache_hits, 0);
  const load: LoadResult = {
    event: 'result',
    mode: 'rate',
    targetRate: 300,
    concurrency: 0,
    sent: ok,
    ok,
    errors: {},
    elapsedS: 8.02,
    rps: ok / 8.02,
    sendRate: 300,
    ttfb: affinity ? latency(4.5, 21) : latency(12, 23),
    total: affinity ? latency(13, 30) : latency(21, 32),
    lagMs: latency(0.1, 1),
    clientCpuUsPerReq: 100,
    affinity: { sessions: 50, files: 6 },
    prefixCache: { hits, misses: ok - hits, hitRate: hits / ok },
  };
  return { round: 1, affinity, load, sims, gatewayCpuUsPerReq: 500, otherCpuPercent: 3 };
}

const OFF = run(false, [
  [800, 400],
  [800, 396],
  [800, 404],
]);
const ON = run(true, [
  [820, 800],
  [790, 770],
  [790, 774],
]);

void test('the two gateway configs are valid and differ only in routing.affinity.enabled', () => {
  const off = gatewayConfig(SIMS, false, SETTINGS);
  const on = gatewayConfig(SIMS, true, SETTINGS);
  for (const c of [off, on]) validateConfig(c);
  const flipped = JSON.parse(JSON.stringify(off)) as { routing: { affinity: { enabled: boolean } } };
  flipped.routing.affinity.enabled = true;
  assert.deepEqual(flipped, on);
  const parsed = validateConfig(on);
  assert.deepEqual(
    parsed.deployments.map((d) => d.url),
    ['h2c://127.0.0.1:9001', 'h2c://127.0.0.1:9002', 'h2c://127.0.0.1:9003'],
  );
  assert.equal(parsed.routing.affinity.loadFactor, 1.25);
  assert.equal(parsed.routing.affinity.promptChars, 256);
});

void test('the workload must outgrow one cache and fit in three', () => {
  assert.equal(shapeProblem(DEFAULTS), undefined);
  assert.match(shapeProblem({ sessions: 10, files: 15, prefixCache: 150 }) ?? '', /must exceed one/);
  assert.match(shapeProblem({ sessions: 100, files: 5, prefixCache: 150 }) ?? '', /must fit in 3/);
  assert.throws(() => parseSettings(['--sessions', '10']), /must exceed one/);
  const quick = parseSettings(['--quick', '--no-pin']);
  assert.equal(quick.rounds, 1);
  assert.equal(quick.pin, false);
  assert.ok(quick.warmupS + quick.durationS < DEFAULTS.warmupS + DEFAULTS.durationS);
});

void test('a sound run passes its checks; hit rate and shares come from the simulators', () => {
  assert.deepEqual(checkRun(OFF, SETTINGS), []);
  assert.deepEqual(checkRun(ON, SETTINGS), []);
  assert.equal(hitRate(OFF), 0.5);
  assert.equal(hitRate(ON), 2344 / 2400);
  assert.deepEqual(shares(OFF), [1 / 3, 1 / 3, 1 / 3]);
  assert.ok(Math.abs(shares(ON).reduce((a, b) => a + b) - 1) < 1e-12);
});

void test('errors, lost requests and miscounted cache lookups fail a run', () => {
  const bad = structuredClone(ON);
  bad.load.errors = { status_503: 3 };
  bad.load.ok -= 3;
  assert.ok(checkRun(bad, SETTINGS).some((p) => p.includes('status_503=3')));
  assert.ok(checkRun(bad, SETTINGS).some((p) => p.includes('2397 of 2400 requests completed')));

  const miscounted = structuredClone(ON);
  (miscounted.sims[0] as SimulatorStats).prefix_cache_misses += 5; // a lookup for nothing the client sent
  const problems = checkRun(miscounted, SETTINGS);
  assert.ok(problems.some((p) => p.includes('hits + misses')));
  assert.ok(problems.some((p) => p.includes('the load client counted')));

  const slow = structuredClone(OFF);
  slow.load.rps = 200;
  assert.ok(checkRun(slow, SETTINGS).some((p) => p.includes('below 90%')));

  const extra = structuredClone(OFF);
  (extra.sims[1] as SimulatorStats).requests += 1; // a retry reached a second simulator
  assert.ok(checkRun(extra, SETTINGS).some((p) => p.includes('received 2401 requests')));
});

void test('the markdown has one row per run and the off-vs-on summary', () => {
  const md = renderMarkdown(SETTINGS, [OFF, ON, { ...OFF, round: 2 }, { ...ON, round: 2 }], 70, []);
  const rows = md.split('\n').filter((l) => /^\| \d /.test(l));
  assert.equal(rows.length, 4);
  assert.match(rows[0] ?? '', /^\| 1 \| off \| .* \| 50\.0% \| 1,200 \/ 1,200 \| 12\.00 \/ 23\.00 \|/);
  assert.match(rows[1] ?? '', /\| 34% \/ 33% \/ 33% \|/);
  assert.match(summaryLine([OFF, ON]), /affinity off 50\.0% .* on 97\.7%/);
  assert.match(md, /run order off, on, off, on/);
});
