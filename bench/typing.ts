// Typing-simulator benchmark: what developers feel and what the GPUs waste, for three kinds of
// client behind ghostwire. One `ghostwire simulate` (the GPUs), per scenario a fresh
// `ghostwire serve --config` in front of it, and `ghostwire loadgen --json` as its own process
// typing through the corpus with N developers. The scenarios differ only in how the editor
// gives up on a stale request and whether the gateway's supersession is on:
//   reset               HTTP/2, RST_STREAM at the next key (Copilot in VS Code): the good client
//   never               HTTP/1.1, lets every request run (old plugins, curl-like clients)
//   never+supersession  the same bad client, with `policy.supersession.enabled: true`
// Prints a markdown section on stdout, progress on stderr; exits 1 if a check fails.
//
//   npx tsc -p . && node dist/bench/typing.js [--developers N] [--duration-s S] [--quick]
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SERVE_NODE_FLAGS } from '../src/cli/launcher.js';
import { DEV_KEY_ENV } from '../src/config/dev-auth.js';
import type { LoadgenResult } from '../src/loadgen/result.js';
import { startService, stop, type Service } from './processes.js';
import { simRequest, simStats } from './sim-http.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TMP = join(ROOT, '.bench-tmp');
const BIN = join(ROOT, 'bin/ghostwire.js');

/** One kind of client, and whether the gateway supersedes for it. */
export interface Scenario {
  name: string;
  protocol: 'h2' | 'h1';
  cancel: 'reset' | 'never';
  supersession: boolean;
  describe: string;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'reset',
    protocol: 'h2',
    cancel: 'reset',
    supersession: false,
    describe: 'HTTP/2, the editor resets the stream at the next key (as Copilot in VS Code does)',
  },
  {
    name: 'never',
    protocol: 'h1',
    cancel: 'never',
    supersession: false,
    describe: 'HTTP/1.1, the editor never cancels: every request runs to its end (old plugins)',
  },
  {
    name: 'never+supersession',
    protocol: 'h1',
    cancel: 'never',
    supersession: true,
    describe: 'the same client, with `policy.supersession.enabled: true` in the gateway',
  },
];

export interface Settings {
  developers: number;
  durationS: number;
  drainS: number;
  ttftMs: number;
  tokenMs: number;
  maxTokens: number;
  /** The simulator's concurrent generations (its GPU capacity); more wait in its queue. */
  slots: number;
  seed: number;
}

export const DEFAULTS: Readonly<Settings> = Object.freeze({
  developers: 300,
  durationS: 20,
  drainS: 10,
  ttftMs: 40,
  tokenMs: 8,
  maxTokens: 64,
  slots: 256,
  seed: 1,
});

const QUICK: Partial<Settings> = { developers: 20, durationS: 3, drainS: 5 };

/** One scenario's result: what loadgen printed with --json, and the gateway's own counter. */
export interface ScenarioRun {
  scenario: Scenario;
  result: LoadgenResult;
  /** The most generations waiting in the simulator's queue at once (its capacity exceeded). */
  simQueuedPeak: number;
}

/** The gateway config of one scenario: they differ only in `policy.supersession.enabled`. */
export function gatewayConfig(simUrl: string, supersession: boolean, slots: number = DEFAULTS.slots): object {
  return {
    listeners: [{ host: '127.0.0.1', port: 0 }],
    // The gateway admits as many at once as the simulator has slots (its GPU capacity).
    deployments: [{ name: 'sim', url: simUrl.replace(/^http:/, 'h2c:'), maxConcurrent: slots }],
    models: [{ name: 'default', deployments: ['sim'] }],
    // Token verification is measured in the main benchmark; it does not change what is measured here.
    auth: { mode: 'none' },
    policy: { supersession: { enabled: supersession } },
  };
}

/** GPU tokens per completion a developer saw: the cost of one useful suggestion. */
export function tokensPerShown(r: LoadgenResult): number {
  return r.gpu === null || r.shown === 0 ? Number.NaN : r.gpu.tokens_generated / r.shown;
}

/**
 * Requests the gateway shed because every GPU slot was taken and its queue wait ran out
 * (`GW_NO_CAPACITY`): an outcome of the load, not a fault of the run. Any other error is one.
 */
export const SHED_CODE = 'GW_NO_CAPACITY';
export const shedOf = (r: LoadgenResult): number => r.errors.by_code[SHED_CODE] ?? 0;

/** Every way a run can be wrong; empty when sound. */
export function checkRun(run: ScenarioRun): string[] {
  const { scenario: sc, result: r } = run;
  const p: string[] = [];
  if (r.requests === 0) p.push(`${sc.name}: no request was sent`);
  const other = Object.entries(r.errors.by_code).filter(([k]) => k !== SHED_CODE);
  if (other.length > 0) p.push(`${sc.name}: errors ${other.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (r.unfinished > 0) p.push(`${sc.name}: ${r.unfinished} requests still running after the drain`);
  if (r.gpu === null || r.gpu.unreadable.length > 0)
    p.push(`${sc.name}: the simulator's counters were not read`);
  else {
    // A request may end before it reaches the GPU (cancelled or superseded in the gateway, shed):
    // never more than those, and never more at the GPU than were sent.
    const before = r.cancelled.total + r.superseded + shedOf(r);
    if (r.gpu.requests > r.requests || r.requests - r.gpu.requests > before)
      p.push(
        `${sc.name}: the simulator received ${r.gpu.requests} requests, loadgen sent ${r.requests} (${before} may end before the GPU)`,
      );
  }
  if (sc.cancel === 'never' && r.cancelled.total > 0)
    p.push(`${sc.name}: ${r.cancelled.total} client cancels from a client that never cancels`);
  if (sc.supersession && r.superseded === 0)
    p.push(`${sc.name}: supersession on, but nothing was superseded`);
  if (!sc.supersession && r.superseded > 0)
    p.push(`${sc.name}: ${r.superseded} superseded with supersession off`);
  return p;
}

const f0 = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : Math.round(v).toLocaleString('en-US');
const f1 = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(1);
const pct = (n: number, of: number): string => (of > 0 ? `${((100 * n) / of).toFixed(1)}%` : '—');
const ratio = (a: number, b: number): string =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—';

/** The markdown section: method, one row per scenario, ratios against the well-behaved client. */
export function renderMarkdown(
  s: Settings,
  runs: readonly ScenarioRun[],
  tookS: number,
  problems: readonly string[],
): string {
  const cpu = os.cpus();
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const header = [
    'Scenario',
    'Requests',
    'Shown',
    'At the pause p50 / p99 ms',
    'First token p50 / p99 ms',
    'Cancelled / superseded / stale',
    'Shed (no capacity)',
    'GPU tokens',
    'After cancel',
    'GPU tokens per shown',
    'vs reset',
  ];
  const base = runs.find((r) => r.scenario.name === 'reset');
  const baseCost = base === undefined ? Number.NaN : tokensPerShown(base.result);
  const rows = runs.map(({ scenario: sc, result: r, simQueuedPeak }) => {
    const cost = tokensPerShown(r);
    return line([
      `**${sc.name}**`,
      f0(r.requests),
      `${f0(r.shown)} (${pct(r.shown, r.requests)})`,
      `${f0(r.latency_ms.at_pause?.p50)} / ${f0(r.latency_ms.at_pause?.p99)}`,
      `${f1(r.latency_ms.first_token.p50)} / ${f1(r.latency_ms.first_token.p99)}`,
      `${f0(r.cancelled.total)} / ${f0(r.superseded)} / ${f0(r.stale)}`,
      `${f0(shedOf(r))} (${pct(shedOf(r), r.requests)})`,
      f0(r.gpu?.tokens_generated),
      f0(r.gpu?.tokens_after_cancel),
      `${f1(cost)}${simQueuedPeak > 0 ? ` (GPU queue peaked at ${f0(simQueuedPeak)})` : ''}`,
      ratio(cost, baseCost),
    ]);
  });
  return [
    '## Typing simulator: what developers feel, what the GPUs waste',
    '',
    `Machine: node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}; took ${tookS} s. ` +
      'Load generator, gateway and simulator share the machine, unpinned (so the latencies include their contention for the CPUs).',
    '',
    `Method: one \`ghostwire simulate --ttft-ms ${s.ttftMs} --token-ms ${s.tokenMs} --max-tokens ${s.maxTokens} --slots ${s.slots}\` ` +
      `(${s.slots} generations at once; more wait in its queue, as on a GPU server). Per scenario a fresh \`ghostwire serve --config\` in front of it and ` +
      `\`ghostwire loadgen --developers ${s.developers} --duration-s ${s.durationS} --seed ${s.seed} --max-tokens ${s.maxTokens}\` (its own process; ` +
      'the typing model of docs/loadgen.md: real source files, inter-key delays from published typing studies, 75 ms debounce, a completion at every pause). ' +
      'Scenarios: ' +
      runs.map((r) => `**${r.scenario.name}**: ${r.scenario.describe}`).join('; ') +
      '. "At the pause": the developer\'s last key → first token (debounce included) — what a developer waits for. ' +
      '"Shown": completions that finished before the next key. "Stale": completions that ran to the end after the developer had typed on — GPU work nobody saw. ' +
      `"Shed": refused with \`${SHED_CODE}\` because all ${s.slots} GPU slots (the deployment's \`maxConcurrent\`, the simulator's \`--slots\`) were busy past the queue wait — requests a developer never got an answer to. ` +
      '"GPU tokens": generated by the simulator during the run (its `/stats`); "GPU tokens per shown": that ÷ shown completions — the GPU cost of one suggestion a developer saw; "vs reset": ÷ the same for the well-behaved client.',
    '',
    line(header),
    line(header.map((_, i) => (i === 0 ? '---' : '---:'))),
    ...rows,
    '',
    ...(problems.length > 0
      ? [
          `**FAILED: ${problems.length} check(s)**; these numbers are not to be trusted:`,
          '',
          ...problems.map((p) => `- ${p}`),
          '',
        ]
      : []),
  ].join('\n');
}

export function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      developers: { type: 'string' },
      'duration-s': { type: 'string' },
      'drain-s': { type: 'string' },
      'ttft-ms': { type: 'string' },
      'token-ms': { type: 'string' },
      'max-tokens': { type: 'string' },
      slots: { type: 'string' },
      seed: { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      'usage: node dist/bench/typing.js [--quick] [--developers N] [--duration-s S] [--drain-s S]\n' +
        '         [--ttft-ms MS] [--token-ms MS] [--max-tokens N] [--slots N] [--seed N]\n' +
        'Prints a markdown section; docs/loadgen.md explains the numbers.\n',
    );
    process.exit(0);
  }
  const d = values.quick === true ? { ...DEFAULTS, ...QUICK } : DEFAULTS;
  const int = (v: string | undefined, fallback: number, name: string, min: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} expects an integer >= ${min}, got "${v}"`);
    return n;
  };
  return {
    developers: int(values.developers, d.developers, 'developers', 1),
    durationS: int(values['duration-s'], d.durationS, 'duration-s', 1),
    drainS: int(values['drain-s'], d.drainS, 'drain-s', 1),
    ttftMs: int(values['ttft-ms'], d.ttftMs, 'ttft-ms', 0),
    tokenMs: int(values['token-ms'], d.tokenMs, 'token-ms', 1),
    maxTokens: int(values['max-tokens'], d.maxTokens, 'max-tokens', 1),
    slots: int(values.slots, d.slots, 'slots', 1),
    seed: int(values.seed, d.seed, 'seed', 0),
  };
}

/** Waits (bounded) until the simulator has nothing running or queued: runs must not overlap. */
async function waitIdle(simUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await simStats(simUrl);
    if (st.active === 0 && st.queued === 0) return;
    if (Date.now() > deadline) throw new Error(`the simulator is still busy after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `ghostwire loadgen … --json` as its own process; its JSON result. */
function runLoadgen(s: Settings, sc: Scenario, gwUrl: string, simUrl: string): Promise<LoadgenResult> {
  const args = [
    BIN,
    'loadgen',
    '--url',
    gwUrl,
    '--developers',
    String(s.developers),
    '--duration-s',
    String(s.durationS),
    '--drain-s',
    String(s.drainS),
    '--protocol',
    sc.protocol,
    '--cancel',
    sc.cancel,
    '--max-tokens',
    String(s.maxTokens),
    '--seed',
    String(s.seed),
    '--stats-url',
    simUrl,
    '--json',
  ];
  const boundMs = (s.durationS + s.drainS + 60) * 1000;
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      args,
      // The gateways here run without auth: a dev key in the environment (npm run bench sets one)
      // would make loadgen exchange it for a token at a route that is off.
      { encoding: 'utf8', timeout: boundMs, maxBuffer: 64 * 1024 * 1024, env: withoutDevKey(process.env) },
      (err, stdout, stderr) => {
        if (err !== null) {
          reject(new Error(`loadgen (${sc.name}) failed: ${err.message}\n${stderr.slice(-2000)}`));
          return;
        }
        try {
          resolvePromise(JSON.parse(stdout) as LoadgenResult);
        } catch {
          reject(new Error(`loadgen (${sc.name}) printed no JSON:\n${stdout.slice(0, 500)}`));
        }
      },
    );
  });
}

function withoutDevKey(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out[DEV_KEY_ENV];
  return out;
}

async function measure(s: Settings, sc: Scenario, sim: Service): Promise<ScenarioRun> {
  const configFile = join(TMP, `typing-${sc.name}.json`);
  writeFileSync(configFile, JSON.stringify(gatewayConfig(sim.url, sc.supersession, s.slots), null, 2) + '\n');
  const gw = await startService(`gateway-${sc.name}`, [
    ...SERVE_NODE_FLAGS,
    BIN,
    'serve',
    '--config',
    configFile,
  ]);
  try {
    // Peaks are per reset; loadgen differences the counters itself, so a reset does not disturb it.
    await simRequest('POST', `${sim.url}/stats/reset`);
    const result = await runLoadgen(s, sc, gw.url, sim.url);
    return { scenario: sc, result, simQueuedPeak: (await simStats(sim.url)).peak_queued };
  } finally {
    await stop(gw.child);
  }
}

async function main(): Promise<void> {
  const s = parseSettings(process.argv.slice(2));
  const started = Date.now();
  const log = (msg: string): void =>
    void process.stderr.write(
      `[typing ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`,
    );
  const watchdog = setTimeout(
    () => {
      process.stderr.write('typing: FAILED: still running past its bound\n');
      process.exit(1);
    },
    (SCENARIOS.length * (s.durationS + s.drainS + 90) + 30) * 1000,
  );
  watchdog.unref();
  mkdirSync(TMP, { recursive: true });
  const sim = await startService('sim', [
    BIN,
    'simulate',
    '--port',
    '0',
    '--ttft-ms',
    String(s.ttftMs),
    '--token-ms',
    String(s.tokenMs),
    '--max-tokens',
    String(s.maxTokens),
    '--slots',
    String(s.slots),
  ]);
  try {
    const runs: ScenarioRun[] = [];
    for (const sc of SCENARIOS) {
      await waitIdle(sim.url, 30_000);
      log(`${sc.name}: ${s.developers} developers for ${s.durationS} s`);
      const run = await measure(s, sc, sim);
      const r = run.result;
      log(
        `${sc.name}: ${r.requests} requests, ${r.shown} shown, at the pause p50 ${f0(r.latency_ms.at_pause?.p50)} ms, ` +
          `${f0(r.gpu?.tokens_generated)} GPU tokens, ${f1(tokensPerShown(r))} per shown`,
      );
      runs.push(run);
    }
    const problems = runs.flatMap(checkRun);
    process.stdout.write(renderMarkdown(s, runs, Math.round((Date.now() - started) / 1000), problems));
    if (problems.length > 0)
      throw new Error(`${problems.length} check(s) failed:\n  ${problems.join('\n  ')}`);
  } finally {
    clearTimeout(watchdog);
    await stop(sim.child);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`typing: FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
