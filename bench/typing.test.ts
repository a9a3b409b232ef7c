// The typing benchmark (bench/typing.ts): its checks and table on made-up results, and one short
// real run (simulator, three gateways, three loadgen processes) whose numbers must tell the
// three clients apart the way the mechanism says they must.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LoadgenResult } from '../src/loadgen/result.js';
import {
  checkRun,
  DEFAULTS,
  gatewayConfig,
  parseSettings,
  renderMarkdown,
  SCENARIOS,
  tokensPerShown,
  type ScenarioRun,
} from './typing.js';

const HERE = dirname(fileURLToPath(import.meta.url));

function result(over: Partial<LoadgenResult>): LoadgenResult {
  const summary = { count: 10, p50: 100, p90: 110, p99: 120, max: 130, mean: 101 };
  return {
    requests: 100,
    shown: 10,
    completed: 10,
    cancelled: { total: 90, reset: 90, close: 0 },
    superseded: 0,
    stale: 0,
    unfinished: 0,
    errors: { total: 0, by_code: {} },
    latency_ms: { first_token: summary, completion: summary, at_pause: summary, cancel_age: summary },
    gpu: {
      sources: ['x'],
      unreadable: [],
      requests: 100,
      completed: 10,
      cancelled: 90,
      tokens_generated: 2000,
      tokens_after_cancel: 0,
      joined: 90,
      client_cancels: 90,
      cancel_age_ms: summary,
      cancel_to_upstream_ms: summary,
      age_difference_ms: summary,
    },
    ...over,
  } as LoadgenResult;
}

const [reset, never, superseding] = SCENARIOS as [
  ScenarioRun['scenario'],
  ScenarioRun['scenario'],
  ScenarioRun['scenario'],
];

void test('the scenarios differ only in the client and in supersession; configs in one place', () => {
  assert.deepEqual(
    SCENARIOS.map((s) => [s.name, s.protocol, s.cancel, s.supersession]),
    [
      ['reset', 'h2', 'reset', false],
      ['never', 'h1', 'never', false],
      ['never+supersession', 'h1', 'never', true],
    ],
  );
  const on = gatewayConfig('http://127.0.0.1:9', true) as {
    policy: unknown;
    deployments: { url: string; maxConcurrent: number }[];
  };
  assert.deepEqual(on.policy, { supersession: { enabled: true } });
  assert.equal(on.deployments[0]?.maxConcurrent, 256);
  assert.equal(on.deployments[0]?.url, 'h2c://127.0.0.1:9');
});

void test('checks: errors, lost requests, cancels from a client that never cancels, supersession that did nothing', () => {
  assert.deepEqual(checkRun({ scenario: reset, result: result({}), simQueuedPeak: 0 }), []);
  const bad = checkRun({
    scenario: superseding,
    result: result({ errors: { total: 5, by_code: { GW_UPSTREAM: 2, GW_NO_CAPACITY: 3 } }, unfinished: 1 }),
    simQueuedPeak: 0,
  }).join('\n');
  assert.match(bad, /errors GW_UPSTREAM 2$/m);
  assert.doesNotMatch(bad, /GW_NO_CAPACITY/, 'shed requests are an outcome, not a fault');
  assert.match(bad, /1 requests still running/);
  assert.match(bad, /client cancels from a client that never cancels/);
  assert.match(bad, /nothing was superseded/);
  const gpu = result({}).gpu;
  assert.ok(gpu !== null);
  assert.match(
    checkRun({
      scenario: reset,
      result: result({ gpu: { ...gpu, requests: 101 } }),
      simQueuedPeak: 0,
    }).join(),
    /received 101 requests, loadgen sent 100/,
  );
  // Requests cancelled before they reached the GPU are allowed for: 90 cancelled, 5 missing.
  assert.deepEqual(
    checkRun({ scenario: reset, result: result({ gpu: { ...gpu, requests: 95 } }), simQueuedPeak: 0 }),
    [],
  );
});

void test('the table: one row per scenario, GPU tokens per shown completion as a ratio to the good client', () => {
  const runs: ScenarioRun[] = [
    { scenario: reset, result: result({}), simQueuedPeak: 0 },
    {
      scenario: never,
      result: result({
        cancelled: { total: 0, reset: 0, close: 0 },
        stale: 90,
        gpu: { ...result({}).gpu!, tokens_generated: 6000 },
      }),
      simQueuedPeak: 12,
    },
  ];
  assert.equal(tokensPerShown(runs[0]!.result), 200);
  const md = renderMarkdown(DEFAULTS, runs, 5, []);
  assert.match(md, /^## Typing simulator/);
  assert.match(md, /\| \*\*reset\*\* \|.*\| 200\.0 \| 1\.00× \|/);
  assert.match(md, /\| \*\*never\*\* \|.*\| 0 \/ 0 \/ 90 \|.*600\.0 \(GPU queue peaked at 12\) \| 3\.00× \|/);
  assert.doesNotMatch(md, /FAILED/);
  assert.match(renderMarkdown(DEFAULTS, runs, 5, ['x']), /FAILED: 1 check/);
  assert.throws(() => parseSettings(['--developers', '0']), /--developers expects an integer >= 1/);
});

void test('a short real run: supersession cuts the GPU work of a client that never cancels', async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [join(HERE, 'typing.js'), '--developers', '10', '--duration-s', '3', '--drain-s', '5'],
      { encoding: 'utf8', timeout: 120_000 },
      (err, out, stderr) => (err === null ? resolve(out) : reject(new Error(`${err.message}\n${stderr}`))),
    );
  });
  assert.doesNotMatch(stdout, /FAILED/);
  const costs = new Map<string, number>();
  for (const m of stdout.matchAll(/^\| \*\*([a-z+]+)\*\* \|(?:[^|]*\|){8} ([\d,.]+)/gm))
    costs.set(m[1] as string, Number((m[2] as string).replace(/,/g, '')));
  assert.equal(costs.size, 3, stdout);
  const [r, n, s] = ['reset', 'never', 'never+supersession'].map((k) => costs.get(k) as number) as [
    number,
    number,
    number,
  ];
  // The same seeded typing in every scenario: a client that never cancels costs the GPUs more per
  // suggestion seen, and supersession gives most of it back.
  assert.ok(n > 1.5 * r, `never (${n}) should cost well over reset (${r})`);
  assert.ok(s < n * 0.8, `supersession (${s}) should cut never's cost (${n})`);
});
