// Scaling benchmark: maximum requests/s of `ghostwire serve --workers 1` vs `--workers 2` in
// front of one simulator. Real processes on 127.0.0.1: one `ghostwire simulate`, per run a fresh
// gateway, and `bench/load.ts --mode closed` (C requests in flight over N connections: the
// workers split connections, so N must be several). Nothing is pinned: a second worker needs a
// second CPU, which it shares with the simulator and the load client on a small machine, and
// the report says so. Rounds run 1, 2 then 2, 1 (ABBA). Prints a markdown section on stdout.
//
//   npx tsc -p . && node dist/bench/workers.js [--quick] [--rounds N] [--workers A,B]
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SERVE_NODE_FLAGS } from '../src/cli/launcher.js';
import { measuredLoad, type MeasuredLoad } from './measured-load.js';
import { startService, stop, type Service } from './processes.js';
import { median } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/ghostwire.js');

export interface Settings {
  rounds: number;
  /** Worker counts compared; the first is the baseline. */
  workers: number[];
  durationS: number;
  warmupS: number;
  concurrency: number;
  connections: number;
  maxTokens: number;
}

export const DEFAULTS: Readonly<Settings> = Object.freeze({
  rounds: 2,
  workers: [1, 2],
  durationS: 8,
  warmupS: 2,
  // Enough in flight that the simulator's per-token pacing is not what bounds a closed loop.
  concurrency: 256,
  connections: 16,
  maxTokens: 8,
});

export interface WorkersRun extends MeasuredLoad {
  round: number;
  workers: number;
}

/** Every way a run can be wrong; empty when sound. */
export function checkRun(run: WorkersRun): string[] {
  const errors = Object.entries(run.load.errors);
  return errors.length > 0
    ? [
        `round ${run.round} --workers ${run.workers}: errors ${errors.map(([k, v]) => `${k}=${v}`).join(', ')}`,
      ]
    : [];
}

const f0 = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—');
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '—');

export function renderMarkdown(
  s: Settings,
  runs: readonly WorkersRun[],
  tookS: number,
  problems: readonly string[],
): string {
  const cpu = os.cpus();
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const header = [
    'Round',
    'Workers',
    'Req/s',
    'Gateway CPU µs/req (all its processes)',
    'Simulator + load client CPU µs/req',
    'Machine busy, cores',
    'TTFB p50 / p99 ms',
  ];
  const rows = runs.map((r) =>
    line([
      String(r.round),
      String(r.workers),
      f0(r.load.rps),
      f0(r.cpuUsPerReq),
      f0(r.allCpuUsPerReq - r.cpuUsPerReq),
      f2((r.allCpuUsPerReq * r.load.rps) / 1e6),
      `${f2(r.load.ttfb.p50)} / ${f2(r.load.ttfb.p99)}`,
    ]),
  );
  const base = s.workers[0] as number;
  const rps = (w: number): number => median(runs.filter((r) => r.workers === w).map((r) => r.load.rps));
  const ratios = s.workers
    .slice(1)
    .map(
      (w) =>
        `--workers ${w}: ${f2(rps(w) / rps(base))}× the requests/s of --workers ${base} (${f0(rps(w))} vs ${f0(rps(base))})`,
    );
  return [
    '## Scaling: `--workers`',
    '',
    `Machine: node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}; took ${tookS} s. ` +
      'Nothing pinned: the gateway workers, the simulator and the load client share every CPU.',
    '',
    `Method: one \`ghostwire simulate --ttft-ms 1 --token-ms 1 --max-tokens ${s.maxTokens}\`; per run a fresh ` +
      `\`node ${SERVE_NODE_FLAGS.join(' ')} bin/ghostwire.js serve --workers N --no-auth --upstream h2c://…\`, then ` +
      `\`bench/load.ts --mode closed --concurrency ${s.concurrency} --connections ${s.connections}\` for ${s.durationS} s after ${s.warmupS} s of warm-up ` +
      '(node:cluster hands each connection to a worker in turn, so the connections spread over the workers). ' +
      'Gateway CPU sums the first process and every worker. Rounds run the counts in order, then reversed.',
    '',
    line(header),
    line(header.map((_, i) => (i < 2 ? '---' : '---:'))),
    ...rows,
    '',
    `**${ratios.join('; ')}** (medians). Workers add throughput only where the gateway is what runs out of CPU. ` +
      `With ${cpu.length} cores shared by the simulator, the load client and the gateway, "machine busy" shows where the cores went: ` +
      'when it is near the core count and the gateway holds less than one of them, the others are the bottleneck and a second worker ' +
      'only competes with them. On a machine with cores to spare (or the load elsewhere) each worker takes a core of its own.',
    ...(problems.length > 0
      ? ['', `**FAILED: ${problems.length} check(s)**:`, '', ...problems.map((p) => `- ${p}`)]
      : []),
    '',
  ].join('\n');
}

export function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      workers: { type: 'string' },
      'duration-s': { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      'usage: node dist/bench/workers.js [--quick] [--rounds N] [--workers 1,2] [--duration-s S]\n',
    );
    process.exit(0);
  }
  const quick = values.quick === true;
  const int = (v: string, name: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} expects integers >= ${min}, got "${v}"`);
    return n;
  };
  const workers = (values.workers ?? '1,2').split(',').map((w) => int(w.trim(), 'workers', 1));
  if (workers.length < 2) throw new Error('--workers needs at least two counts to compare, e.g. 1,2');
  return {
    ...DEFAULTS,
    rounds: values.rounds === undefined ? (quick ? 1 : DEFAULTS.rounds) : int(values.rounds, 'rounds', 1),
    workers,
    durationS:
      values['duration-s'] === undefined
        ? quick
          ? 3
          : DEFAULTS.durationS
        : int(values['duration-s'], 'duration-s', 1),
    warmupS: quick ? 1 : DEFAULTS.warmupS,
  };
}

async function measure(s: Settings, round: number, workers: number, sim: Service): Promise<WorkersRun> {
  const gw = await startService(`gateway-${workers}`, [
    ...SERVE_NODE_FLAGS,
    BIN,
    'serve',
    '--workers',
    String(workers),
    '--port',
    '0',
    '--no-auth',
    '--upstream',
    sim.url.replace(/^http:/, 'h2c:'),
  ]);
  try {
    // The worker pids follow "listening on" on the next line.
    let pids: number[] = [];
    for (let i = 0; i < 50 && workers > 1 && pids.length === 0; i++) {
      const m = /processes share the port \(pids ([\d, ]+)\)/.exec(gw.tail());
      if (m?.[1] !== undefined) pids = m[1].split(', ').map(Number);
      else await new Promise((r) => setTimeout(r, 100));
    }
    if (workers > 1 && pids.length !== workers)
      throw new Error(`gateway-${workers}: no worker pids in its output`);
    const m = await measuredLoad({
      args: [
        join(ROOT, 'dist/bench/load.js'),
        '--url',
        gw.url,
        '--mode',
        'closed',
        '--concurrency',
        String(s.concurrency),
        '--duration-s',
        String(s.durationS),
        '--warmup-s',
        String(s.warmupS),
        '--connections',
        String(s.connections),
        '--max-tokens',
        String(s.maxTokens),
      ],
      pids: [gw.pid, ...pids],
      ours: [gw.pid, ...pids, sim.pid],
      timeoutMs: (s.warmupS + s.durationS) * 1000 + 40_000,
      pinTo: undefined,
      tail: () => gw.tail(),
    });
    return { round, workers, ...m };
  } finally {
    await stop(gw.child);
  }
}

async function main(): Promise<void> {
  const s = parseSettings(process.argv.slice(2));
  const started = Date.now();
  const log = (msg: string): void =>
    void process.stderr.write(
      `[workers ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`,
    );
  const boundMs = s.rounds * s.workers.length * (s.warmupS + s.durationS + 50) * 1000 + 30_000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`workers: FAILED: still running after ${boundMs / 1000} s\n`);
    process.exit(1);
  }, boundMs);
  watchdog.unref();
  const sim = await startService('sim', [
    BIN,
    'simulate',
    '--port',
    '0',
    '--ttft-ms',
    '1',
    '--token-ms',
    '1',
    '--max-tokens',
    String(s.maxTokens),
    '--slots',
    '4096',
  ]);
  try {
    const runs: WorkersRun[] = [];
    for (let round = 1; round <= s.rounds; round++)
      for (const w of round % 2 === 1 ? s.workers : [...s.workers].reverse()) {
        const run = await measure(s, round, w, sim);
        runs.push(run);
        log(
          `round ${round} --workers ${w}: ${run.load.rps.toFixed(0)} req/s, ${run.cpuUsPerReq.toFixed(0)} µs/req`,
        );
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
    process.stderr.write(`workers: FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
