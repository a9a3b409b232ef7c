// Cache affinity benchmark: the prefix-cache hit rate three simulators see through ghostwire with
// `routing.affinity` off (power of two choices by load and TTFB) and on (bounded-load rendezvous
// hashing on session id + prompt head), the latency that buys, and how evenly the load spreads.
// Real processes on 127.0.0.1: three `ghostwire simulate --prefix-cache N`, one fresh
// `ghostwire serve --config` per run (the two configs differ only in `routing.affinity.enabled`),
// and one `bench/load.ts --sessions --files --stats-url` per run, interleaved off, on, off, on.
// Prints progress on stderr and a markdown table + summary on stdout; checks its own results
// (no errors, every request counted once by the simulators and looked up once in a cache) and
// exits 1 if any check fails.
//
//   npx tsc -p . && node dist/bench/affinity-bench.js [--quick] [--rounds N] [--rate RPS] ...
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { SimulatorStats } from '../src/simulator/index.js';
import type { LoadResult } from './load.js';
import { measuredLoad } from './measured-load.js';
import { SERVE_NODE_FLAGS } from '../src/cli/launcher.js';
import { simRequest } from './sim-http.js';
import { pinToCpus, type Service, startService, stop } from './processes.js';
import { DISTURBED_OTHER_CPU_PERCENT } from './report.js';
import { median } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TMP = join(ROOT, '.bench-tmp');
/** The gateway gets CPU 1 to itself; the simulators, the load client and this process share CPU 0. */
const GATEWAY_CPU = '1';
const LOAD_CPU = '0';
const SIMULATORS = 3;

export interface AffinityBenchSettings {
  rounds: number;
  /** Open-loop requests per second: moderate, well below what the machine saturates at. */
  rate: number;
  durationS: number;
  warmupS: number;
  sessions: number;
  files: number;
  seed: number;
  /** Each simulator's --prefix-cache: fewer than sessions × files, at least a third of them. */
  prefixCache: number;
  ttftMs: number;
  cachedTtftMs: number;
  tokenMs: number;
  maxTokens: number;
  /** Each simulator's --slots, and its deployment's maxConcurrent in the gateway. */
  slots: number;
  connections: number;
  loadFactor: number;
  pin: boolean;
  json: string | undefined;
}

export const DEFAULTS: Readonly<Omit<AffinityBenchSettings, 'pin' | 'json'>> = Object.freeze({
  rounds: 2,
  rate: 300,
  durationS: 8,
  warmupS: 3,
  sessions: 50,
  files: 6,
  seed: 1,
  prefixCache: 150,
  ttftMs: 20,
  cachedTtftMs: 4,
  tokenMs: 1,
  maxTokens: 8,
  slots: 64,
  connections: 8,
  loadFactor: 1.25,
});

/** One measured run: one fresh gateway, one load client. */
export interface AffinityRun {
  round: number;
  affinity: boolean;
  load: LoadResult;
  /** Each simulator's /stats after the measured phase (reset just before it). */
  sims: SimulatorStats[];
  gatewayCpuUsPerReq: number;
  /** Busy CPU of the machine outside the benchmark's processes, % of one core. */
  otherCpuPercent: number;
}

export function parseSettings(argv: string[]): AffinityBenchSettings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      rate: { type: 'string' },
      'duration-s': { type: 'string' },
      'warmup-s': { type: 'string' },
      sessions: { type: 'string' },
      files: { type: 'string' },
      seed: { type: 'string' },
      'prefix-cache': { type: 'string' },
      'ttft-ms': { type: 'string' },
      'cached-ttft-ms': { type: 'string' },
      'token-ms': { type: 'string' },
      'max-tokens': { type: 'string' },
      slots: { type: 'string' },
      connections: { type: 'string' },
      'load-factor': { type: 'string' },
      'no-pin': { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      'usage: node dist/bench/affinity-bench.js [--quick] [--rounds N] [--rate RPS] [--duration-s S] [--warmup-s S]\n' +
        '         [--sessions N] [--files M] [--seed S] [--prefix-cache N] [--ttft-ms MS] [--cached-ttft-ms MS]\n' +
        '         [--token-ms MS] [--max-tokens N] [--slots N] [--connections N] [--load-factor F]\n' +
        '         [--no-pin] [--json FILE]\nSee bench/README.md.\n',
    );
    process.exit(0);
  }
  const quick = values.quick === true;
  const num = (v: string | undefined, fallback: number, name: string, min: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} expects a number >= ${min}, got "${v}"`);
    return n;
  };
  const int = (v: string | undefined, fallback: number, name: string, min: number): number =>
    Math.round(num(v, fallback, name, min));
  const s: AffinityBenchSettings = {
    rounds: int(values.rounds, quick ? 1 : DEFAULTS.rounds, 'rounds', 1),
    rate: num(values.rate, DEFAULTS.rate, 'rate', 1),
    durationS: num(values['duration-s'], quick ? 3 : DEFAULTS.durationS, 'duration-s', 1),
    warmupS: num(values['warmup-s'], quick ? 2 : DEFAULTS.warmupS, 'warmup-s', 0),
    sessions: int(values.sessions, DEFAULTS.sessions, 'sessions', 1),
    files: int(values.files, DEFAULTS.files, 'files', 1),
    seed: int(values.seed, DEFAULTS.seed, 'seed', 0),
    prefixCache: int(values['prefix-cache'], DEFAULTS.prefixCache, 'prefix-cache', 1),
    ttftMs: num(values['ttft-ms'], DEFAULTS.ttftMs, 'ttft-ms', 0),
    cachedTtftMs: num(values['cached-ttft-ms'], DEFAULTS.cachedTtftMs, 'cached-ttft-ms', 0),
    tokenMs: num(values['token-ms'], DEFAULTS.tokenMs, 'token-ms', 0),
    maxTokens: int(values['max-tokens'], DEFAULTS.maxTokens, 'max-tokens', 1),
    slots: int(values.slots, DEFAULTS.slots, 'slots', 1),
    connections: int(values.connections, DEFAULTS.connections, 'connections', 1),
    loadFactor: num(values['load-factor'], DEFAULTS.loadFactor, 'load-factor', 1),
    pin: values['no-pin'] !== true && os.availableParallelism() >= 2,
    json: values.json === undefined ? undefined : resolve(values.json),
  };
  if (s.loadFactor > 10) throw new Error('--load-factor expects at most 10 (routing.affinity.loadFactor)');
  const problem = shapeProblem(s);
  if (problem !== undefined) throw new Error(problem);
  return s;
}

/**
 * The measurement only shows something when the (session, file) prefixes outnumber one
 * simulator's cache (so spreading them at random must miss) but fit in all of them together (so
 * affinity can hit). Undefined when the settings have that shape.
 */
export function shapeProblem(
  s: Pick<AffinityBenchSettings, 'sessions' | 'files' | 'prefixCache'>,
): string | undefined {
  const pairs = s.sessions * s.files;
  if (pairs <= s.prefixCache)
    return `sessions × files (${pairs}) must exceed one simulator's --prefix-cache (${s.prefixCache})`;
  if (pairs > SIMULATORS * s.prefixCache)
    return `sessions × files (${pairs}) must fit in ${SIMULATORS} simulators' caches (${SIMULATORS * s.prefixCache})`;
  return undefined;
}

/** The gateway config of one run: the two kinds differ only in `routing.affinity.enabled`. */
export function gatewayConfig(
  simUrls: readonly string[],
  affinity: boolean,
  s: AffinityBenchSettings,
): object {
  const deployments = simUrls.map((url, i) => ({
    name: `sim-${i + 1}`,
    url: url.replace(/^http:/, 'h2c:'),
    adapter: 'openai',
    maxConcurrent: s.slots,
  }));
  return {
    listeners: [{ host: '127.0.0.1', port: 0 }],
    deployments,
    models: [{ name: 'default', deployments: deployments.map((d) => d.name) }],
    // The hit rate does not depend on auth; the main benchmark measures token verification.
    auth: { mode: 'none' },
    routing: { affinity: { enabled: affinity, promptChars: 256, loadFactor: s.loadFactor } },
  };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** Every way a run can be wrong; empty when it is sound. Each line says what and by how much. */
export function checkRun(run: AffinityRun, s: Pick<AffinityBenchSettings, 'rate' | 'durationS'>): string[] {
  const name = `round ${run.round} affinity ${run.affinity ? 'on' : 'off'}`;
  const p: string[] = [];
  const { load, sims } = run;
  const errors = Object.entries(load.errors);
  if (errors.length > 0) p.push(`${name}: errors ${errors.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  const scheduled = Math.floor(s.durationS * s.rate);
  if (load.sent !== scheduled) p.push(`${name}: sent ${load.sent} requests, the schedule had ${scheduled}`);
  if (load.ok !== load.sent) p.push(`${name}: ${load.ok} of ${load.sent} requests completed`);
  if (load.rps < 0.9 * s.rate) p.push(`${name}: ${load.rps} req/s, below 90% of the ${s.rate} req/s target`);
  const requests = sum(sims.map((x) => x.requests));
  const completed = sum(sims.map((x) => x.completed));
  const hits = sum(sims.map((x) => x.prefix_cache_hits));
  const misses = sum(sims.map((x) => x.prefix_cache_misses));
  if (requests !== load.sent)
    p.push(`${name}: the simulators received ${requests} requests, the client sent ${load.sent}`);
  if (completed !== load.ok)
    p.push(`${name}: the simulators completed ${completed} requests, the client saw ${load.ok}`);
  if (hits + misses !== load.ok)
    p.push(
      `${name}: prefix-cache hits + misses = ${hits} + ${misses} = ${hits + misses}, requests ${load.ok}`,
    );
  const pc = load.prefixCache;
  if (pc === undefined) p.push(`${name}: the load client reported no prefix-cache counts`);
  else if (pc.hits !== hits || pc.misses !== misses)
    p.push(
      `${name}: the load client counted ${pc.hits}/${pc.misses} hits/misses, the simulators ${hits}/${misses}`,
    );
  for (const [i, x] of sims.entries()) {
    if (x.rejected > 0 || x.errors > 0 || x.cancelled > 0)
      p.push(`${name}: sim-${i + 1} rejected ${x.rejected}, errors ${x.errors}, cancelled ${x.cancelled}`);
  }
  return p;
}

/** Things worth knowing that do not invalidate a run. */
export function runWarnings(run: AffinityRun): string[] {
  const name = `round ${run.round} affinity ${run.affinity ? 'on' : 'off'}`;
  const w: string[] = [];
  if (run.load.lagMs.p99 > 5) w.push(`${name}: the load client sent late (lag p99 ${run.load.lagMs.p99} ms)`);
  if (run.otherCpuPercent > DISTURBED_OTHER_CPU_PERCENT)
    w.push(`${name}: ${Math.round(run.otherCpuPercent)}% of a core went to processes outside the benchmark`);
  for (const [i, x] of run.sims.entries())
    if (x.peak_queued > 0) w.push(`${name}: sim-${i + 1} queued requests (peak ${x.peak_queued})`);
  return w;
}

/** Share of the measured requests each simulator completed, in simulator order. */
export function shares(run: Pick<AffinityRun, 'sims'>): number[] {
  const total = sum(run.sims.map((x) => x.completed));
  return run.sims.map((x) => (total === 0 ? Number.NaN : x.completed / total));
}

export function hitRate(run: Pick<AffinityRun, 'sims'>): number {
  const hits = sum(run.sims.map((x) => x.prefix_cache_hits));
  const lookups = hits + sum(run.sims.map((x) => x.prefix_cache_misses));
  return lookups === 0 ? Number.NaN : hits / lookups;
}

const pct = (v: number, digits = 1): string => (Number.isNaN(v) ? '—' : `${(v * 100).toFixed(digits)}%`);
const ms = (v: number): string => (Number.isNaN(v) ? '—' : v.toFixed(2));
const int = (v: number): string => (Number.isNaN(v) ? '—' : Math.round(v).toLocaleString('en-US'));

/** The summary line: medians over the runs of each kind. */
export function summaryLine(runs: readonly AffinityRun[]): string {
  const of = (on: boolean): AffinityRun[] => runs.filter((r) => r.affinity === on);
  const m = (on: boolean, f: (r: AffinityRun) => number): number => median(of(on).map(f));
  const each = (on: boolean): string =>
    of(on)
      .map((r) => pct(hitRate(r)))
      .join(', ');
  const busiest = (on: boolean): number => Math.max(...of(on).map((r) => Math.max(...shares(r))));
  return (
    `**Hit rate: affinity off ${pct(m(false, hitRate))} (runs: ${each(false)}), ` +
    `on ${pct(m(true, hitRate))} (runs: ${each(true)}).** ` +
    `TTFB p50 ${ms(m(false, (r) => r.load.ttfb.p50))} → ${ms(m(true, (r) => r.load.ttfb.p50))} ms, ` +
    `p99 ${ms(m(false, (r) => r.load.ttfb.p99))} → ${ms(m(true, (r) => r.load.ttfb.p99))} ms; ` +
    `busiest simulator's share ${pct(busiest(false))} off, ${pct(busiest(true))} on (even: ${pct(1 / SIMULATORS)}).`
  );
}

/** The markdown printed on stdout (and embedded in docs/benchmarks.md by bench/run.ts). */
export function renderMarkdown(
  s: AffinityBenchSettings,
  runs: readonly AffinityRun[],
  durationS: number,
  warnings: readonly string[],
): string {
  const pairs = s.sessions * s.files;
  const cpu = os.cpus();
  const rows = runs.map((r) => {
    const pc = r.load.prefixCache;
    return [
      String(r.round),
      r.affinity ? 'on' : 'off',
      int(r.load.rps),
      pct(hitRate(r)),
      pc === undefined ? '—' : `${int(pc.hits)} / ${int(pc.misses)}`,
      `${ms(r.load.ttfb.p50)} / ${ms(r.load.ttfb.p99)}`,
      `${ms(r.load.total.p50)} / ${ms(r.load.total.p99)}`,
      shares(r)
        .map((x) => pct(x, 0))
        .join(' / '),
      int(r.gatewayCpuUsPerReq),
      `${Math.round(r.otherCpuPercent)}%${r.otherCpuPercent > DISTURBED_OTHER_CPU_PERCENT ? ' (disturbed)' : ''}`,
    ];
  });
  const header = [
    'Round',
    'Affinity',
    'Req/s',
    'Hit rate',
    'Hits / misses',
    'TTFB p50 / p99 ms',
    'Total p50 / p99 ms',
    'Share sim 1 / 2 / 3',
    'Gateway CPU µs/req',
    'Other CPU',
  ];
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const table = [line(header), line(header.map((_, i) => (i < 2 ? '---' : '---:'))), ...rows.map(line)].join(
    '\n',
  );
  return [
    `Cache affinity benchmark: node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}; took ${durationS} s. ` +
      `${SIMULATORS} \`ghostwire simulate --prefix-cache ${s.prefixCache} --ttft-ms ${s.ttftMs} --cached-ttft-ms ${s.cachedTtftMs} ` +
      `--token-ms ${s.tokenMs} --max-tokens ${s.maxTokens} --slots ${s.slots}\` behind one model; ` +
      `${s.sessions} sessions × ${s.files} files = ${pairs} prompt prefixes (one simulator caches ${s.prefixCache}, all ${SIMULATORS} ${SIMULATORS * s.prefixCache}). ` +
      `Open loop at ${s.rate} req/s for ${s.durationS} s after ${s.warmupS} s warm-up, ${s.connections} h2c connections, the same seeded sequence every run. ` +
      `A fresh gateway per run (\`auth: { mode: none }\`, \`maxConcurrent: ${s.slots}\`, \`loadFactor: ${s.loadFactor}\`), ` +
      `the two configs differing only in \`routing.affinity.enabled\`; run order ${runs.map((r) => (r.affinity ? 'on' : 'off')).join(', ')}. ` +
      (s.pin
        ? 'The gateway is pinned alone to CPU 1; simulators and load client share CPU 0.'
        : 'Processes unpinned.'),
    '',
    table,
    '',
    summaryLine(runs),
    '',
    'Hit rate: prefix-cache hits ÷ lookups summed over the simulators in the measured phase. ' +
      'Share: requests each simulator completed. TTFB and total: request written → first token / end of stream, through the gateway. ' +
      'Gateway CPU: its user+system CPU over the measured phase ÷ requests (at this low rate fixed costs weigh more than in the main runs). ' +
      `Other CPU: the machine's busy CPU outside the benchmark's processes, % of one core; above ${DISTURBED_OTHER_CPU_PERCENT}% the run was disturbed by something else running.` +
      (warnings.length > 0 ? `\n\nWarnings: ${warnings.join('; ')}.` : ''),
    '',
  ].join('\n');
}

const simStats = async (sim: Service): Promise<SimulatorStats> =>
  JSON.parse(await simRequest('GET', `${sim.url}/stats`)) as SimulatorStats;

async function measure(
  s: AffinityBenchSettings,
  round: number,
  affinity: boolean,
  sims: readonly Service[],
  log: (msg: string) => void,
): Promise<AffinityRun> {
  const kind = affinity ? 'on' : 'off';
  const configFile = join(TMP, `affinity-bench-${kind}.json`);
  writeFileSync(
    configFile,
    JSON.stringify(
      gatewayConfig(
        sims.map((x) => x.url),
        affinity,
        s,
      ),
      null,
      2,
    ) + '\n',
  );
  // With the launcher's flags given here, `serve` runs in this very process: the pid pinned and
  // measured is the gateway's.
  const gw = await startService(`gateway-${kind}`, [
    ...SERVE_NODE_FLAGS,
    join(ROOT, 'bin/ghostwire.js'),
    'serve',
    '--config',
    configFile,
  ]);
  try {
    if (s.pin) pinToCpus(gw.pid, GATEWAY_CPU);
    const args = [
      join(ROOT, 'dist/bench/load.js'),
      '--url',
      gw.url,
      '--mode',
      'rate',
      '--rate',
      String(s.rate),
      '--duration-s',
      String(s.durationS),
      '--warmup-s',
      String(s.warmupS),
      '--connections',
      String(s.connections),
      '--max-tokens',
      String(s.maxTokens),
      '--sessions',
      String(s.sessions),
      '--files',
      String(s.files),
      '--seed',
      String(s.seed),
      ...sims.flatMap((x) => ['--stats-url', x.url]),
    ];
    const m = await measuredLoad({
      args,
      pids: [gw.pid],
      ours: [gw.pid, ...sims.map((x) => x.pid)],
      timeoutMs: (s.warmupS + s.durationS) * 1000 + 40_000,
      pinTo: s.pin ? LOAD_CPU : undefined,
      // Counters only: the caches stay as they are (each load client's file paths carry a random
      // run tag and its session ids are fresh, so nothing from an earlier run can hit).
      beforeMeasure: async () => {
        await Promise.all(sims.map((x) => simRequest('POST', `${x.url}/stats/reset`)));
      },
      tail: () => gw.tail(),
    });
    const result = m.load;
    const stats = await Promise.all(sims.map(simStats));
    const run: AffinityRun = {
      round,
      affinity,
      load: result,
      sims: stats,
      gatewayCpuUsPerReq: m.cpuUsPerReq,
      otherCpuPercent: m.otherCpuPercent,
    };
    log(
      `round ${round} affinity ${kind.padEnd(3)}: ${run.load.rps.toFixed(0)} req/s, hit rate ${pct(hitRate(run))}, ` +
        `ttfb p50 ${ms(run.load.ttfb.p50)} p99 ${ms(run.load.ttfb.p99)} ms, shares ${shares(run)
          .map((x) => pct(x, 0))
          .join(' / ')}, gateway ${int(run.gatewayCpuUsPerReq)} µs/req`,
    );
    if (Object.keys(result.errors).length > 0)
      process.stderr.write(`  last output of the gateway:\n${gw.tail().split('\n').slice(-8).join('\n')}\n`);
    return run;
  } finally {
    await stop(gw.child);
  }
}

async function main(): Promise<void> {
  const s = parseSettings(process.argv.slice(2));
  mkdirSync(TMP, { recursive: true });
  const started = Date.now();
  const log = (msg: string): void =>
    void process.stderr.write(
      `[affinity ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`,
    );
  // The whole run is bounded, whatever wedges: each load client is bounded too, this is the backstop.
  const boundMs = s.rounds * 2 * (s.warmupS + s.durationS + 25) * 1000 + 30_000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`affinity-bench: FAILED: still running after ${boundMs / 1000} s\n`);
    process.exit(1);
  }, boundMs);
  watchdog.unref();

  const sims: Service[] = [];
  try {
    const simFlags = [
      '--port',
      '0',
      '--prefix-cache',
      String(s.prefixCache),
      '--ttft-ms',
      String(s.ttftMs),
      '--cached-ttft-ms',
      String(s.cachedTtftMs),
      '--token-ms',
      String(s.tokenMs),
      '--max-tokens',
      String(s.maxTokens),
      '--slots',
      String(s.slots),
    ];
    const started3 = await Promise.allSettled(
      Array.from({ length: SIMULATORS }, (_, i) =>
        startService(`sim-${i + 1}`, [join(ROOT, 'bin/ghostwire.js'), 'simulate', ...simFlags]),
      ),
    );
    for (const r of started3) if (r.status === 'fulfilled') sims.push(r.value);
    for (const r of started3) if (r.status === 'rejected') throw r.reason;
    if (s.pin && !sims.every((x) => pinToCpus(x.pid, LOAD_CPU))) {
      s.pin = false;
      log('taskset unavailable: running unpinned');
    }
    log(`simulators up: ${sims.map((x) => x.url).join(', ')}`);

    const runs: AffinityRun[] = [];
    for (let round = 1; round <= s.rounds; round++) {
      for (const affinity of [false, true]) runs.push(await measure(s, round, affinity, sims, log));
    }
    const problems = runs.flatMap((r) => checkRun(r, s));
    const warnings = runs.flatMap(runWarnings);
    const durationS = Math.round((Date.now() - started) / 1000);
    process.stdout.write(renderMarkdown(s, runs, durationS, warnings));
    if (s.json !== undefined) writeFileSync(s.json, JSON.stringify({ settings: s, runs }, null, 2) + '\n');
    if (problems.length > 0) {
      // On stdout too, so a report that embeds the table cannot show it without saying it failed.
      process.stdout.write(
        `\n**FAILED: ${problems.length} check(s)**; the numbers above are not to be trusted:\n\n` +
          problems.map((p) => `- ${p}`).join('\n') +
          '\n',
      );
      throw new Error(`${problems.length} check(s) failed:\n  ${problems.join('\n  ')}`);
    }
    log(`all checks passed (${runs.length} runs, ${durationS} s)`);
  } finally {
    clearTimeout(watchdog);
    await Promise.all(sims.map((x) => stop(x.child)));
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`affinity-bench: FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
