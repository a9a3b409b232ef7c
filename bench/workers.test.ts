// The scaling benchmark's flags, checks and table (bench/workers.ts), without starting processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LoadResult } from './load.js';
import { checkRun, DEFAULTS, parseSettings, renderMarkdown, type WorkersRun } from './workers.js';

const run = (
  round: number,
  workers: number,
  rps: number,
  errors: Record<string, number> = {},
): WorkersRun => ({
  round,
  workers,
  load: { rps, sent: 1000, ok: 1000, errors, ttfb: { p50: 3, p99: 9 } } as unknown as LoadResult,
  cpuUsPerReq: 80,
  allCpuUsPerReq: 150,
  otherCpuPercent: 0,
});

void test('flags: two or more worker counts, integers', () => {
  assert.deepEqual(parseSettings([]).workers, [1, 2]);
  assert.deepEqual(parseSettings(['--workers', '1,2,4']).workers, [1, 2, 4]);
  assert.throws(() => parseSettings(['--workers', '2']), /at least two/);
  assert.throws(() => parseSettings(['--workers', '1,x']), /integers >= 1/);
  assert.equal(parseSettings(['--quick']).rounds, 1);
});

void test('the table: one row per run, the ratio of medians, errors fail the run', () => {
  const md = renderMarkdown(
    DEFAULTS,
    [run(1, 1, 1000), run(1, 2, 1500), run(2, 2, 1700), run(2, 1, 1000)],
    30,
    [],
  );
  assert.match(md, /^## Scaling: `--workers`/);
  assert.equal(md.split('\n').filter((l) => /^\| [12] \| [12] \|/.test(l)).length, 4);
  assert.match(md, /--workers 2: 1\.60× the requests\/s of --workers 1 \(1,600 vs 1,000\)/);
  assert.match(md, /\| 1 \| 1 \| 1,000 \| 80 \| 70 \| 0\.15 \|/);
  assert.deepEqual(checkRun(run(1, 2, 10)), []);
  assert.match(checkRun(run(1, 2, 10, { reset_2: 3 })).join(), /--workers 2: errors reset_2=3/);
});
