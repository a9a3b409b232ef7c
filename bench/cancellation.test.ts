// The cancellation benchmark's own arithmetic (bench/cancellation.ts), without starting any
// process: the join of client resets with the simulator's cancel log, the checks, the table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SimulatorStats } from '../src/simulator/index.js';
import {
  checkRun,
  DEFAULTS,
  parseSettings,
  renderMarkdown,
  summarizeRun,
  TARGETS,
  wastedTokens,
  type ClientRecord,
} from './cancellation.js';

function sim(requests: number, cancelled: number, tokens: number): SimulatorStats {
  return {
    requests,
    completed: requests - cancelled,
    cancelled,
    tokens_generated: tokens,
    tokens_after_cancel: 0,
    active: 0,
    queued: 0,
    peak_active: 3,
    peak_queued: 0,
    rejected: 0,
    errors: 0,
    prefix_cache_hits: 0,
    prefix_cache_misses: requests,
  };
}

const client: ClientRecord[] = [
  { id: 'a', resetAtMs: 1000, tokens: 5, error: undefined },
  { id: 'b', resetAtMs: 2000, tokens: 0, error: undefined },
  { id: 'c', resetAtMs: 3000, tokens: 9, error: undefined },
  { id: 'd', resetAtMs: undefined, tokens: 20, error: undefined }, // ended before its reset was due
];

void test('client resets are joined with the simulator’s cancels by id; the trip is its at_ms minus the reset', () => {
  const run = summarizeRun(1, 'ghostwire', client, sim(4, 2, 40), [
    { request_id: 'a', at_ms: 1000.4, age_ms: 50 },
    { request_id: 'c', at_ms: 3002, age_ms: 90 },
    { request_id: null, at_ms: 5000, age_ms: 1 },
  ]);
  assert.equal(run.clientCancels, 3);
  assert.equal(run.completedFirst, 1);
  assert.equal(run.joined, 2);
  assert.deepEqual(
    run.tripsMs.map((t) => Math.round(t * 10) / 10),
    [0.4, 2],
  );
  assert.equal(wastedTokens(run), 40 - 34);
  assert.deepEqual(checkRun(run), []);
});

void test('the checks catch a lost request, phantom cancels and a run with too few cancels', () => {
  const lost = summarizeRun(2, 'naive', client, sim(5, 4, 40), []);
  const problems = checkRun(lost).join('\n');
  assert.match(problems, /received 5 requests, the client sent 4/);
  assert.match(problems, /counted 4 cancels, the client made 3/);
  const few = summarizeRun(
    1,
    'direct',
    client.map((c) => ({ ...c, resetAtMs: undefined })),
    sim(4, 0, 40),
    [],
  );
  assert.match(checkRun(few).join('\n'), /only 0 of 4 requests were cancelled/);
});

void test('the section states its method, one row per run, and every target in the summary', () => {
  const s = { ...DEFAULTS, pin: false, external: [] };
  const runs = TARGETS.map((t) => summarizeRun(1, t.name, client, sim(4, 3, 40), []));
  const md = renderMarkdown(s, TARGETS, runs, 12, []);
  assert.match(md, /^## Cancellation/);
  assert.match(md, /Method: .*RST_STREAM\(CANCEL\).*x-request-id/s);
  assert.equal(md.split('\n').filter((l) => /^\| 1 \| /.test(l)).length, TARGETS.length);
  for (const t of TARGETS) assert.match(md, new RegExp(`\\*\\*${t.name}\\*\\*`));
  assert.doesNotMatch(md, /FAILED/);
  assert.match(renderMarkdown(s, TARGETS, runs, 12, ['x: broken']), /FAILED: 1 check/);
});

void test('an external target (a proxy someone else runs, e.g. HAProxy) needs the simulator’s port', () => {
  assert.throws(() => parseSettings(['--target', 'haproxy=http://127.0.0.1:8443']), /--sim-port/);
  const s = parseSettings(['--target', 'haproxy=http://127.0.0.1:8443/', '--sim-port', '9100', '--quick']);
  assert.deepEqual(s.external, [{ name: 'haproxy', url: 'http://127.0.0.1:8443' }]);
  assert.equal(s.simPort, 9100);
  assert.equal(s.rounds, 1);
});
