// Cancellation benchmark: when an editor gives up on a completion (RST_STREAM), how often and how
// fast does the model server hear of it, and how many tokens does it generate for nobody? For
// each target — the client straight to the simulator, the naive node:http2 pass-through, and
// ghostwire, each a real process on 127.0.0.1 — N streamed completions, each reset after a random
// delay. The simulator logs every cancel it notices with the request's x-request-id and the time
// (GET /stats/cancels); this process logs when it sent each RST_STREAM, on the same clock
// (performance.timeOrigin + now(), same host). Joined by id, that is the cancel's trip to the GPU.
// Prints a markdown section on stdout, progress on stderr; exits 1 if a check fails.
//
//   npx tsc -p . && node dist/bench/cancellation.js [--requests N] [--rounds N] [--target NAME=URL ...]
//
// Adding a target (HAProxy, Envoy, ...): one entry in TARGETS, a TargetSpec whose start() runs
// the proxy in front of the simulator URL it is given; or, for one already running, --target
// NAME=URL with --sim-port P (the proxy must forward to 127.0.0.1:P over h2c).
import http2 from 'node:http2';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SERVE_NODE_FLAGS } from '../src/cli/launcher.js';
import type { CancelRecord, SimulatorStats } from '../src/simulator/index.js';
import { findHaproxy, startHaproxy } from './haproxy.js';
import { simRequest } from './sim-http.js';
import { pinToCpus, startService, stop } from './processes.js';
import { quantileSorted } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** With pinning, a proxy has CPU 1 to itself; the simulator and this process (the client) share CPU 0. */
const PROXY_CPU = '1';
const CLIENT_CPU = '0';
const PATH = '/v1/engines/default/completions';

/** A proxy (or none) between the client and the simulator. */
export interface TargetSpec {
  name: string;
  /** One line for the method text: what runs and how it was started. */
  describe: string;
  /** Starts the target in front of the simulator at `simUrl` (http://host:port, h2c). */
  start(simUrl: string): Promise<StartedTarget>;
  /** False when this machine cannot run it (HAProxy not installed): skipped, and the report says so. */
  available?: () => boolean;
}

export interface StartedTarget {
  /** Where the client connects (h2c). */
  url: string;
  /** The process to pin to PROXY_CPU, if it is ours. */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** The targets, measured in this order every round. HAProxy and others are added here. */
export const TARGETS: readonly TargetSpec[] = [
  {
    name: 'direct',
    describe: 'the client talks to the simulator itself (the floor: nothing in between)',
    start: (simUrl) => Promise.resolve({ url: simUrl, pid: undefined, stop: () => Promise.resolve() }),
  },
  {
    name: 'naive',
    describe:
      '`node dist/bench/naive-proxy.js`: node:http2 pass-through, one upstream session, client close → upstream `NGHTTP2_CANCEL`',
    start: async (simUrl) => {
      const svc = await startService('naive', [
        join(ROOT, 'dist/bench/naive-proxy.js'),
        '--port',
        '0',
        '--upstream',
        simUrl,
      ]);
      return { url: svc.url, pid: svc.pid, stop: () => stop(svc.child) };
    },
  },
  {
    name: 'haproxy',
    describe:
      'HAProxy (the Debian package, `-db`, one thread), the config `bench/haproxy.ts` generates: h2c prior knowledge in, `proto h2` out, like the gateway-overhead run',
    start: async (simUrl) => {
      const bin = findHaproxy();
      if (bin === undefined) throw new Error('haproxy: not installed (`apt-get install haproxy`)');
      const svc = await startHaproxy(bin, simUrl);
      return { url: svc.url, pid: svc.pid, stop: () => stop(svc.child) };
    },
    available: () => findHaproxy() !== undefined,
  },
  {
    name: 'ghostwire',
    describe: `\`node ${SERVE_NODE_FLAGS.join(' ')} bin/ghostwire.js serve --no-auth --upstream h2c://…\` (as its launcher runs it)`,
    start: async (simUrl) => {
      const svc = await startService('ghostwire', [
        ...SERVE_NODE_FLAGS,
        join(ROOT, 'bin/ghostwire.js'),
        'serve',
        '--port',
        '0',
        '--no-auth',
        '--upstream',
        simUrl.replace(/^http:/, 'h2c:'),
      ]);
      return { url: svc.url, pid: svc.pid, stop: () => stop(svc.child) };
    },
  },
];

export interface Settings {
  requests: number;
  concurrency: number;
  rounds: number;
  /** Each request is reset after a delay drawn uniformly from [minMs, maxMs]. */
  minMs: number;
  maxMs: number;
  ttftMs: number;
  tokenMs: number;
  maxTokens: number;
  simPort: number;
  pin: boolean;
  /** Already-running targets in front of the simulator on simPort: NAME=URL. */
  external: { name: string; url: string }[];
}

export const DEFAULTS: Readonly<Omit<Settings, 'pin' | 'external'>> = Object.freeze({
  requests: 400,
  concurrency: 20,
  rounds: 2,
  minMs: 5,
  maxMs: 200,
  ttftMs: 20,
  tokenMs: 5,
  maxTokens: 200,
  simPort: 0,
});

/** What the client did with one request. Times are wall-clock ms (timeOrigin + now()). */
export interface ClientRecord {
  id: string;
  /** When the RST_STREAM was sent; undefined if the stream had ended first (not a cancel). */
  resetAtMs: number | undefined;
  /** Token events received before the reset (or in all, if it completed). */
  tokens: number;
  error: string | undefined;
}

/** One target in one round. */
export interface TargetRun {
  round: number;
  target: string;
  requests: number;
  clientCancels: number;
  /** Requests that ended before their reset was due (the delay outlived the generation). */
  completedFirst: number;
  errors: number;
  sim: SimulatorStats;
  /** Client cancels found in the simulator's cancel log by x-request-id. */
  joined: number;
  /** Client RST_STREAM → the simulator noticed, ms, sorted. */
  tripsMs: number[];
  /** Tokens the client received in all. */
  tokensReceived: number;
}

/** The numbers of one run, from what both sides logged. */
export function summarizeRun(
  round: number,
  target: string,
  client: readonly ClientRecord[],
  sim: SimulatorStats,
  simCancels: readonly CancelRecord[],
): TargetRun {
  const byId = new Map<string, CancelRecord>();
  for (const c of simCancels) if (c.request_id !== null) byId.set(c.request_id, c);
  const trips: number[] = [];
  let cancels = 0;
  let tokens = 0;
  let errors = 0;
  for (const r of client) {
    tokens += r.tokens;
    if (r.error !== undefined) errors++;
    if (r.resetAtMs === undefined) continue;
    cancels++;
    const c = byId.get(r.id);
    if (c !== undefined) trips.push(c.at_ms - r.resetAtMs);
  }
  trips.sort((a, b) => a - b);
  return {
    round,
    target,
    requests: client.length,
    clientCancels: cancels,
    completedFirst: client.length - cancels - errors,
    errors,
    sim,
    joined: trips.length,
    tripsMs: trips,
    tokensReceived: tokens,
  };
}

/** Tokens the simulator generated that the client never received: made for nobody. */
export function wastedTokens(run: TargetRun): number {
  return Math.max(0, run.sim.tokens_generated - run.tokensReceived);
}

/** Every way a run can be wrong; empty when sound. */
export function checkRun(run: TargetRun): string[] {
  const name = `round ${run.round} ${run.target}`;
  const p: string[] = [];
  if (run.errors > 0) p.push(`${name}: ${run.errors} requests failed`);
  if (run.sim.requests !== run.requests)
    p.push(`${name}: the simulator received ${run.sim.requests} requests, the client sent ${run.requests}`);
  if (run.clientCancels < run.requests / 2)
    p.push(
      `${name}: only ${run.clientCancels} of ${run.requests} requests were cancelled (delays too long?)`,
    );
  if (run.sim.cancelled > run.clientCancels)
    p.push(
      `${name}: the simulator counted ${run.sim.cancelled} cancels, the client made ${run.clientCancels}`,
    );
  return p;
}

const f2 = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(2));
const pct = (n: number, of: number): string => (of > 0 ? `${((100 * n) / of).toFixed(1)}%` : '—');
const int = (v: number): string => Math.round(v).toLocaleString('en-US');

/** The markdown section: method, one row per target and round, a summary line. */
export function renderMarkdown(
  s: Settings,
  targets: readonly { name: string; describe: string }[],
  runs: readonly TargetRun[],
  tookS: number,
  problems: readonly string[],
  skipped: readonly string[] = [],
): string {
  const cpu = os.cpus();
  const header = [
    'Round',
    'Target',
    'Client cancels',
    'Reached the model server',
    'Cancel → upstream p50 / p99 ms',
    'Tokens generated',
    'Never delivered',
    'Per cancel',
    'Sim tokens_after_cancel',
  ];
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const rows = runs.map((r) => {
    const wasted = wastedTokens(r);
    return line([
      String(r.round),
      r.target,
      int(r.clientCancels),
      `${int(r.sim.cancelled)} (${pct(r.sim.cancelled, r.clientCancels)})`,
      `${f2(quantileSorted(r.tripsMs, 0.5))} / ${f2(quantileSorted(r.tripsMs, 0.99))}`,
      int(r.sim.tokens_generated),
      int(wasted),
      f2(r.clientCancels > 0 ? wasted / r.clientCancels : Number.NaN),
      int(r.sim.tokens_after_cancel),
    ]);
  });
  const byTarget = targets.map((t) => {
    const of = runs.filter((r) => r.target === t.name);
    const share =
      of.reduce((a, r) => a + r.sim.cancelled, 0) /
      Math.max(
        1,
        of.reduce((a, r) => a + r.clientCancels, 0),
      );
    const trips = of.flatMap((r) => r.tripsMs).sort((a, b) => a - b);
    const wasted =
      of.reduce((a, r) => a + wastedTokens(r), 0) /
      Math.max(
        1,
        of.reduce((a, r) => a + r.clientCancels, 0),
      );
    return `${t.name} ${pct(share, 1)} reached, p50 ${f2(quantileSorted(trips, 0.5))} / p99 ${f2(quantileSorted(trips, 0.99))} ms, ${f2(wasted)} tokens per cancel`;
  });
  return [
    '## Cancellation',
    '',
    `Machine: node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}; took ${tookS} s. ` +
      (s.pin
        ? 'Each proxy pinned alone to CPU 1; the simulator and the client share CPU 0.'
        : 'Processes unpinned.'),
    '',
    `Method: one \`ghostwire simulate --ttft-ms ${s.ttftMs} --token-ms ${s.tokenMs} --max-tokens ${s.maxTokens}\`; per target and round, ` +
      `${s.requests} streamed Copilot completions (\`max_tokens\` ${s.maxTokens}, so none ends by itself within the delays) from one node:http2 client session, ` +
      `${s.concurrency} at a time, each reset with RST_STREAM(CANCEL) after a delay drawn uniformly from ${s.minMs}–${s.maxMs} ms ` +
      `(some before the first token, most mid-stream). Targets, interleaved every round: ` +
      targets.map((t) => `**${t.name}**: ${t.describe}`).join('; ') +
      ". The simulator's counters are reset before each run and read once it is idle. " +
      '"Reached the model server": the simulator\'s `cancelled` ÷ the client\'s resets. ' +
      '"Cancel → upstream": the simulator\'s `/stats/cancels` `at_ms` (when it noticed the client gone) minus the time this client sent the RST_STREAM, joined by `x-request-id` (same host, same clock). ' +
      '"Never delivered": tokens the simulator generated minus token events the client received before its reset (generated for nobody, including those in flight when the reset crossed them); ' +
      '`tokens_after_cancel` counts only tokens the simulator made after it had noticed, which is 0 when it stops at once.',
    '',
    line(header),
    line(header.map((_, i) => (i < 2 ? '---' : '---:'))),
    ...rows,
    '',
    `**Summary (all rounds):** ${byTarget.join('; ')}.`,
    ...(skipped.length > 0
      ? ['', `Not measured (not installed on this machine): ${skipped.join(', ')}.`]
      : []),
    ...(problems.length > 0
      ? [
          '',
          `**FAILED: ${problems.length} check(s)**; these numbers are not to be trusted:`,
          '',
          ...problems.map((p) => `- ${p}`),
        ]
      : []),
    '',
  ].join('\n');
}

export function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      'min-ms': { type: 'string' },
      'max-ms': { type: 'string' },
      'ttft-ms': { type: 'string' },
      'token-ms': { type: 'string' },
      'max-tokens': { type: 'string' },
      'sim-port': { type: 'string' },
      target: { type: 'string', multiple: true },
      quick: { type: 'boolean' },
      'no-pin': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      'usage: node dist/bench/cancellation.js [--quick] [--requests N] [--concurrency C] [--rounds N]\n' +
        '         [--min-ms A] [--max-ms B] [--ttft-ms MS] [--token-ms MS] [--max-tokens N]\n' +
        '         [--sim-port P] [--target NAME=URL ...] [--no-pin]\n' +
        'Prints a markdown section (docs/loadgen.md explains the numbers). --target adds a proxy that is\n' +
        'already running in front of the simulator on --sim-port (h2c), e.g. haproxy=http://127.0.0.1:8443.\n',
    );
    process.exit(0);
  }
  const int = (v: string | undefined, fallback: number, name: string, min: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} expects an integer >= ${min}, got "${v}"`);
    return n;
  };
  const quick = values.quick === true;
  const s: Settings = {
    requests: int(values.requests, quick ? 100 : DEFAULTS.requests, 'requests', 1),
    concurrency: int(values.concurrency, DEFAULTS.concurrency, 'concurrency', 1),
    rounds: int(values.rounds, quick ? 1 : DEFAULTS.rounds, 'rounds', 1),
    minMs: int(values['min-ms'], DEFAULTS.minMs, 'min-ms', 0),
    maxMs: int(values['max-ms'], DEFAULTS.maxMs, 'max-ms', 1),
    ttftMs: int(values['ttft-ms'], DEFAULTS.ttftMs, 'ttft-ms', 0),
    tokenMs: int(values['token-ms'], DEFAULTS.tokenMs, 'token-ms', 1),
    maxTokens: int(values['max-tokens'], DEFAULTS.maxTokens, 'max-tokens', 1),
    simPort: int(values['sim-port'], DEFAULTS.simPort, 'sim-port', 0),
    pin: values['no-pin'] !== true && os.availableParallelism() >= 2,
    external: (values.target ?? []).map((t) => {
      const eq = t.indexOf('=');
      if (eq <= 0) throw new Error(`--target expects NAME=URL, got "${t}"`);
      return { name: t.slice(0, eq), url: t.slice(eq + 1).replace(/\/+$/, '') };
    }),
  };
  if (s.maxMs < s.minMs) throw new Error('--max-ms must be at least --min-ms');
  if (s.external.length > 0 && s.simPort === 0)
    throw new Error('--target needs --sim-port: the proxy must know where the simulator is');
  return s;
}

/** Sends the requests through `url`, `concurrency` at a time, each reset after its delay. */
async function drive(url: string, s: Settings, tag: string): Promise<ClientRecord[]> {
  const session = http2.connect(url);
  session.on('error', () => {});
  await new Promise<void>((ok, fail) => {
    session.once('connect', () => ok());
    session.once('error', fail);
  });
  const records: ClientRecord[] = [];
  let next = 0;
  const one = (): Promise<void> =>
    new Promise((done) => {
      const i = next++;
      const record: ClientRecord = {
        id: `cxl-${tag}-${i}`,
        resetAtMs: undefined,
        tokens: 0,
        error: undefined,
      };
      records.push(record);
      const body = JSON.stringify({
        prompt: `// request ${i}\nfunction handler${i}(req, res) {\n  const id = req.params.id;\n  `,
        max_tokens: s.maxTokens,
        stream: true,
      });
      const stream = session.request({
        ':method': 'POST',
        ':path': PATH,
        'content-type': 'application/json',
        'x-request-id': record.id,
      });
      let status = 0;
      let ended = false;
      stream.setEncoding('utf8');
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (text: string) => {
        if (record.resetAtMs === undefined) record.tokens += countTokens(text);
      });
      stream.on('end', () => (ended = true));
      stream.on('error', () => {});
      const delay = s.minMs + Math.random() * (s.maxMs - s.minMs);
      const timer = setTimeout(() => {
        if (ended || stream.closed) return;
        record.resetAtMs = performance.timeOrigin + performance.now();
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, delay);
      stream.on('close', () => {
        clearTimeout(timer);
        if (record.resetAtMs === undefined && (status !== 200 || !ended)) record.error = `status ${status}`;
        done();
      });
      stream.end(body);
    });
  const worker = async (): Promise<void> => {
    while (next < s.requests) await one();
  };
  await Promise.all(Array.from({ length: Math.min(s.concurrency, s.requests) }, worker));
  session.close();
  return records;
}

/** Token events in a chunk of an OpenAI-style stream (one token per event from the simulator). */
function countTokens(text: string): number {
  let n = 0;
  for (let i = text.indexOf('"text"'); i !== -1; i = text.indexOf('"text"', i + 6)) n++;
  return n;
}

async function waitIdle(simUrl: string): Promise<SimulatorStats> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const stats = JSON.parse(await simRequest('GET', `${simUrl}/stats`)) as SimulatorStats;
    if ((stats.active === 0 && stats.queued === 0) || Date.now() > deadline) return stats;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function measure(
  s: Settings,
  round: number,
  target: { name: string },
  url: string,
  simUrl: string,
): Promise<TargetRun> {
  await simRequest('POST', `${simUrl}/stats/reset`);
  const client = await drive(url, s, `${round}-${target.name}`);
  await new Promise((r) => setTimeout(r, 100)); // resets still crossing the proxy
  const sim = await waitIdle(simUrl);
  const cancels = (
    JSON.parse(await simRequest('GET', `${simUrl}/stats/cancels`)) as { cancels: CancelRecord[] }
  ).cancels;
  return summarizeRun(round, target.name, client, sim, cancels);
}

async function main(): Promise<void> {
  const s = parseSettings(process.argv.slice(2));
  const started = Date.now();
  const log = (msg: string): void =>
    void process.stderr.write(
      `[cancellation ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`,
    );
  const perRunS = (s.requests / s.concurrency) * (s.maxMs / 1000) + 15;
  const watchdog = setTimeout(
    () => {
      process.stderr.write('cancellation: FAILED: still running past its bound\n');
      process.exit(1);
    },
    (s.rounds * (TARGETS.length + s.external.length) * perRunS + 30) * 1000,
  );
  watchdog.unref();

  const sim = await startService('sim', [
    join(ROOT, 'bin/ghostwire.js'),
    'simulate',
    '--port',
    String(s.simPort),
    '--ttft-ms',
    String(s.ttftMs),
    '--token-ms',
    String(s.tokenMs),
    '--max-tokens',
    String(s.maxTokens),
    '--slots',
    String(Math.max(64, s.concurrency * 2)),
  ]);
  try {
    if (s.pin && !(pinToCpus(sim.pid, CLIENT_CPU) && pinToCpus(process.pid, CLIENT_CPU))) {
      s.pin = false;
      log('taskset unavailable: running unpinned');
    }
    const skipped = TARGETS.filter((t) => t.available?.() === false);
    for (const t of skipped) log(`${t.name} skipped: not available on this machine`);
    const targets: TargetSpec[] = [
      ...TARGETS.filter((t) => !skipped.includes(t)),
      ...s.external.map((e): TargetSpec => ({
        name: e.name,
        describe: `already running at ${e.url}, in front of the simulator on port ${s.simPort}`,
        start: () => Promise.resolve({ url: e.url, pid: undefined, stop: () => Promise.resolve() }),
      })),
    ];
    const runs: TargetRun[] = [];
    for (let round = 1; round <= s.rounds; round++) {
      for (const t of targets) {
        const started1 = await t.start(sim.url);
        try {
          if (s.pin && started1.pid !== undefined) pinToCpus(started1.pid, PROXY_CPU);
          const run = await measure(s, round, t, started1.url, sim.url);
          runs.push(run);
          log(
            `round ${round} ${t.name}: ${run.sim.cancelled}/${run.clientCancels} cancels reached the simulator, ` +
              `p50 ${f2(quantileSorted(run.tripsMs, 0.5))} p99 ${f2(quantileSorted(run.tripsMs, 0.99))} ms, ` +
              `${wastedTokens(run)} tokens never delivered`,
          );
        } finally {
          await started1.stop();
        }
      }
    }
    const problems = runs.flatMap(checkRun);
    process.stdout.write(
      renderMarkdown(
        s,
        targets,
        runs,
        Math.round((Date.now() - started) / 1000),
        problems,
        skipped.map((t) => t.name),
      ),
    );
    if (problems.length > 0)
      throw new Error(`${problems.length} check(s) failed:\n  ${problems.join('\n  ')}`);
  } finally {
    clearTimeout(watchdog);
    await stop(sim.child);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`cancellation: FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
