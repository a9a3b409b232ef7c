// The profile summary and the percentile helpers the report is built from.
//   npx tsc -p tsconfig.json && node --test dist/bench/profile.test.js
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { summarizeProfile } from './profile.js';
import { median, quantileSorted, summarizeMicros } from './stats.js';

void test('self time is summed per function, idle left out, callers and areas kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-prof-'));
  try {
    const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 5] },
        {
          id: 2,
          callFrame: frame('completion', 'file:///repo/dist/src/proxy/completion.js', 11),
          children: [4],
        },
        { id: 3, callFrame: frame('(idle)', '') },
        { id: 4, callFrame: frame('parse', 'file:///repo/dist/src/proxy/validate.js', 4) },
        { id: 5, callFrame: frame('(garbage collector)', '') },
      ],
      startTime: 1000,
      endTime: 2000,
      // Sample i lasts until sample i+1: parse 300, completion 100, idle 500, gc 100 (µs).
      samples: [4, 2, 3, 5, 4],
      timeDeltas: [0, 300, 100, 500, 100],
    };
    const file = join(dir, 'x.cpuprofile');
    writeFileSync(file, JSON.stringify(profile));
    const s = summarizeProfile(file, '/repo');
    assert.equal(s.idleMs, 1); // 0.5 ms, rounded
    assert.deepEqual(
      s.top.map((e) => [e.name, e.location, e.percent, e.caller]),
      [
        ['parse', 'dist/src/proxy/validate.js:5', 60, 'completion dist/src/proxy/completion.js:12'],
        ['completion', 'dist/src/proxy/completion.js:12', 20, '(root)'],
        ['(garbage collector)', '', 20, '(root)'],
      ],
    );
    assert.deepEqual(s.byArea, [
      { area: 'ghostwire (dist/src)', percent: 80 },
      { area: 'GC', percent: 20 },
    ]);
    // A window that keeps only the first sample (t = 1000).
    assert.deepEqual(
      summarizeProfile(file, '/repo', { fromUs: 1000, toUs: 1100 }).top.map((e) => e.name),
      ['parse'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('percentiles are nearest-rank; medians skip NaN', () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(quantileSorted(sorted, 0.5), 50);
  assert.equal(quantileSorted(sorted, 0.99), 99);
  assert.equal(quantileSorted(sorted, 1), 100);
  assert.ok(Number.isNaN(quantileSorted([], 0.5)));
  assert.equal(median([3, Number.NaN, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  const us = new Float64Array([3000, 1000, 2000, 0]);
  assert.deepEqual(summarizeMicros(us, 3), { p50: 2, p90: 3, p99: 3, max: 3 });
});
