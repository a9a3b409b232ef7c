// Connection scale benchmark (issue 6): how many idle HTTP/2 client connections one gateway process
// holds and what each costs in memory, then many long-running streams at once (the memory and CPU
// of holding them). ghostwire (`serve` with the launcher's V8 flags, started directly so its pid is
// the gateway's) and the naive node:http2 proxy side by side, the same steps, the same clients:
//   - idle: client processes (bench/connections-client.ts) open connections in steps (0, 1k, 2k,
//     5k, 10k by default, bounded by the open-file limit), each a completed HTTP/2 handshake; after
//     each step the proxy's RSS (/proc/<pid>/status VmRSS) and V8 heap are read, after a full GC;
//     at the end the connections are held a while longer and counted again (none may be dropped);
//   - streams: M connections each with K streaming completions from a slow simulator (a token
//     every 50 ms, 400 tokens: ~20 s each), so all M×K are open at once; RSS and heap with the M
//     connections alone and with the streams, and the proxy's CPU over a window of the steady state.
// Prints progress on stderr and markdown on stdout; checks itself (every connection held, every
// stream open, no errors) and exits 1 listing what failed. Bounded by a watchdog; every process it
// started is killed however it ends.
//
//   npx tsc -p . && node dist/bench/connections.js [--quick] [--steps 0,1000,...] [--stream-connections M]
//     [--streams-per-connection K] [--window-s S] [--hold-s S] [--clients N] [--no-pin] [--json FILE]
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SERVE_NODE_FLAGS } from '../src/cli/launcher.js';
import { routesForUpstreams } from '../src/config/from-flags.js';
import type { SimulatorStats } from '../src/simulator/index.js';
import type { Status } from './connections-client.js';
import { HEAP_PROBE_MARKER, type HeapReport } from './heap-probe.js';
import { cpuMicros, memoryMiB } from './proc.js';
import { fdHardLimit, pinToCpus, type Service, spawnNode, startService, stop } from './processes.js';
import { simRequest } from './sim-http.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TMP = join(ROOT, '.bench-tmp');
/** The proxy gets CPU 1 to itself; the simulator and the client processes share CPU 0. */
const PROXY_CPU = '1';
const LOAD_CPU = '0';
/** File descriptors a process needs besides its client connections (upstream, stdio, epoll, …). */
const FD_MARGIN = 256;
const MiB = 1024 * 1024;

export type ProxyName = 'ghostwire' | 'naive';
export const PROXIES: readonly ProxyName[] = ['ghostwire', 'naive'];

export interface ConnectionsSettings {
  /** Idle connections to hold, in order; the first is normally 0 (the baseline). */
  steps: number[];
  /** Client processes sharing the connections. */
  clients: number;
  /** Streams phase: M connections … */
  streamConnections: number;
  /** … each with K streams. */
  streamsPerConnection: number;
  /** The simulator's pace: a token every tokenMs, maxTokens of them (so a stream lasts tokenMs × maxTokens). */
  tokenMs: number;
  maxTokens: number;
  /** Seconds of steady state over which the proxy's CPU is measured. */
  windowS: number;
  /** Seconds the largest idle step is held before being counted again. */
  holdS: number;
  pin: boolean;
  json: string | undefined;
  /** The open-file hard limit the steps were bounded by. */
  fdLimit: number;
  /** Steps left out because they exceed what the fd limit allows. */
  droppedSteps: number[];
}

export const DEFAULTS = Object.freeze({
  steps: [0, 1000, 2000, 5000, 10_000],
  clients: 2,
  streamConnections: 100,
  streamsPerConnection: 10,
  tokenMs: 50,
  maxTokens: 400,
  windowS: 5,
  holdS: 10,
});
const QUICK = Object.freeze({
  steps: [0, 1000, 2000],
  streamConnections: 20,
  streamsPerConnection: 10,
  windowS: 3,
  holdS: 3,
});

/** One idle step of one proxy. */
export interface IdleStep {
  connections: number;
  /** Connections the clients report held (handshake done, still open) at the measurement. */
  held: number;
  rssMiB: number;
  heapUsedMiB: number;
  /** Memory outside the V8 heap that V8 knows of (buffers, nghttp2's is not counted here). */
  externalMiB: number;
}

export interface IdleResult {
  proxy: ProxyName;
  steps: IdleStep[];
  /** Seconds the largest step was held after it was measured, and what was held after that. */
  holdS: number;
  heldAfterHold: number;
  dropped: number;
  goaways: number;
  failedHandshakes: number;
  /** Seconds to open the largest step from the one before. */
  openS: number;
  /** Seconds from the first connection of the largest step to the final count. */
  oldestHeldS: number;
}

export interface StreamsResult {
  proxy: ProxyName;
  connections: number;
  streamsPerConnection: number;
  /** Streams open (status 200, not ended, not failed) at the end of the CPU window. */
  held: number;
  /** The simulator's generations in progress at the same moment (the upstream side of the streams). */
  upstreamActive: number;
  errors: Record<string, number>;
  /** Streams that ended before the window did (none should: they last longer than the phase). */
  ended: number;
  rssIdleMiB: number;
  heapIdleMiB: number;
  rssMiB: number;
  heapUsedMiB: number;
  /** The proxy's CPU over the window, % of one core. */
  cpuPercent: number;
  /** SSE events (tokens) the clients received per second during the window. */
  eventsPerS: number;
}

export function parseSettings(argv: string[], fdLimit = fdHardLimit()): ConnectionsSettings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      steps: { type: 'string' },
      clients: { type: 'string' },
      'stream-connections': { type: 'string' },
      'streams-per-connection': { type: 'string' },
      'token-ms': { type: 'string' },
      'max-tokens': { type: 'string' },
      'window-s': { type: 'string' },
      'hold-s': { type: 'string' },
      'no-pin': { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      'usage: node dist/bench/connections.js [--quick] [--steps 0,1000,2000,5000,10000] [--clients N]\n' +
        '         [--stream-connections M] [--streams-per-connection K] [--token-ms MS] [--max-tokens N]\n' +
        '         [--window-s S] [--hold-s S] [--no-pin] [--json FILE]\nSee bench/README.md.\n',
    );
    process.exit(0);
  }
  const quick = values.quick === true;
  const base = quick ? { ...DEFAULTS, ...QUICK } : DEFAULTS;
  const num = (
    v: string | undefined,
    fallback: number,
    name: string,
    min: number,
    max = Infinity,
  ): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new Error(`--${name} expects a number from ${min} to ${max}, got "${v}"`);
    return n;
  };
  const asked =
    values.steps === undefined
      ? base.steps
      : values.steps.split(',').map((x) => Math.round(num(x.trim(), 0, 'steps', 0, 1_000_000)));
  const clients = Math.round(num(values.clients, base.clients, 'clients', 1, 16));
  const { steps, dropped } = boundSteps(asked, clients, fdLimit);
  const s: ConnectionsSettings = {
    steps,
    clients,
    streamConnections: Math.round(
      num(values['stream-connections'], base.streamConnections, 'stream-connections', 1, 5000),
    ),
    streamsPerConnection: Math.round(
      num(values['streams-per-connection'], base.streamsPerConnection, 'streams-per-connection', 1, 256),
    ),
    tokenMs: num(values['token-ms'], base.tokenMs, 'token-ms', 1),
    maxTokens: Math.round(num(values['max-tokens'], base.maxTokens, 'max-tokens', 1)),
    windowS: num(values['window-s'], base.windowS, 'window-s', 1, 60),
    holdS: num(values['hold-s'], base.holdS, 'hold-s', 0, 300),
    pin: values['no-pin'] !== true && os.availableParallelism() >= 2,
    json: values.json === undefined ? undefined : resolve(values.json),
    fdLimit,
    droppedSteps: dropped,
  };
  const problem = streamsProblem(s);
  if (problem !== undefined) throw new Error(problem);
  return s;
}

/**
 * The steps one proxy process and the client processes can hold under the open-file hard limit
 * (every connection is a descriptor in the proxy and one in a client); the others are dropped.
 */
export function boundSteps(
  steps: readonly number[],
  clients: number,
  fdLimit: number,
): { steps: number[]; dropped: number[] } {
  const proxyMax = fdLimit - FD_MARGIN;
  const clientMax = clients * (fdLimit - FD_MARGIN);
  const ok = (n: number): boolean => n <= proxyMax && n <= clientMax;
  return { steps: steps.filter(ok), dropped: steps.filter((n) => !ok(n)) };
}

/** The streams must outlive the measurement, or "streams held" would count ones that already ended. */
export function streamsProblem(
  s: Pick<
    ConnectionsSettings,
    'tokenMs' | 'maxTokens' | 'windowS' | 'streamConnections' | 'streamsPerConnection'
  >,
): string | undefined {
  const streamS = (s.tokenMs * s.maxTokens) / 1000;
  // Opening, settling (2 s) and the window, with room to spare.
  const neededS = s.windowS + 8;
  if (streamS < neededS)
    return `a stream lasts ${streamS} s (--token-ms × --max-tokens); it must outlast the measurement (${neededS} s)`;
  // ghostwire's default request deadline (limits.requestTimeoutMs) would cut longer streams.
  if (streamS > 28) return `a stream lasts ${streamS} s; keep it under the gateway's 30 s request deadline`;
  return undefined;
}

/**
 * The gateway's config for this benchmark: what `serve --upstream h2c://…` would build, with the
 * deployment's capacity raised to the streams the benchmark holds (256 by default, beyond which
 * the gateway would queue, then refuse), and no auth (memory per connection and per stream does
 * not depend on it; the main runs measure token verification).
 */
export function gatewayConfig(simUrl: string, streams: number): object {
  const routes = routesForUpstreams([simUrl.replace(/^http:/, 'h2c:')]);
  return {
    listeners: [{ host: '127.0.0.1', port: 0 }],
    auth: { mode: 'none' },
    deployments: (routes.deployments ?? []).map((d) => ({ ...d, maxConcurrent: Math.max(256, streams) })),
    models: routes.models,
  };
}

/** MiB more than the first (baseline) step, per 1000 connections of difference; NaN without a difference. */
export function perThousand(
  steps: readonly IdleStep[],
  step: IdleStep,
  key: 'rssMiB' | 'heapUsedMiB',
): number {
  const base = steps[0];
  if (base === undefined || step.held === base.held) return Number.NaN;
  return ((step[key] - base[key]) / (step.held - base.held)) * 1000;
}

/** Every way a result is wrong; empty when sound. */
export function checkResults(
  s: ConnectionsSettings,
  idle: readonly IdleResult[],
  streams: readonly StreamsResult[],
): string[] {
  const p: string[] = [];
  for (const r of idle) {
    for (const step of r.steps)
      if (step.held !== step.connections)
        p.push(`${r.proxy}: ${step.held} of ${step.connections} idle connections held at the measurement`);
    const last = r.steps[r.steps.length - 1];
    if (last !== undefined && r.heldAfterHold !== last.connections)
      p.push(
        `${r.proxy}: ${r.heldAfterHold} of ${last.connections} idle connections still held after ${r.holdS} s`,
      );
    if (r.dropped > 0 || r.goaways > 0)
      p.push(`${r.proxy}: ${r.dropped} idle connections closed by the server, ${r.goaways} got GOAWAY`);
    if (r.failedHandshakes > 0) p.push(`${r.proxy}: ${r.failedHandshakes} handshakes failed`);
  }
  for (const r of streams) {
    const asked = r.connections * r.streamsPerConnection;
    if (r.held !== asked) p.push(`${r.proxy}: ${r.held} of ${asked} streams open at the end of the window`);
    const errors = Object.entries(r.errors);
    if (errors.length > 0)
      p.push(`${r.proxy}: stream errors ${errors.map(([k, v]) => `${k}=${v}`).join(', ')}`);
    if (r.upstreamActive !== asked)
      p.push(`${r.proxy}: the simulator had ${r.upstreamActive} generations in progress, ${asked} expected`);
  }
  if (s.steps.length < 2) p.push('fewer than two idle steps: nothing to compare');
  return p;
}

const fixed = (v: number, digits: number): string => (Number.isNaN(v) ? '—' : v.toFixed(digits));
const int = (v: number): string => (Number.isNaN(v) ? '—' : Math.round(v).toLocaleString('en-US'));
const pair = (a: string | undefined, b: string | undefined): string => `${a ?? '—'} / ${b ?? '—'}`;

/** The markdown printed on stdout (and embedded in docs/benchmarks.md by bench/run.ts). */
export function renderMarkdown(
  s: ConnectionsSettings,
  idle: readonly IdleResult[],
  streams: readonly StreamsResult[],
  durationS: number,
): string {
  const cpu = os.cpus();
  const gw = idle.find((r) => r.proxy === 'ghostwire');
  const nv = idle.find((r) => r.proxy === 'naive');
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const table = (header: string[], rows: string[][], left = 1): string =>
    [line(header), line(header.map((_, i) => (i < left ? '---' : '---:'))), ...rows.map(line)].join('\n');

  const idleRows = s.steps.map((n, i) => {
    const g = gw?.steps[i];
    const v = nv?.steps[i];
    const per = (
      r: IdleResult | undefined,
      st: IdleStep | undefined,
      key: 'rssMiB' | 'heapUsedMiB',
    ): string | undefined =>
      r === undefined || st === undefined ? undefined : fixed(perThousand(r.steps, st, key), 2);
    return [
      int(n),
      pair(g && int(g.held), v && int(v.held)),
      pair(g && fixed(g.rssMiB, 1), v && fixed(v.rssMiB, 1)),
      pair(g && fixed(g.heapUsedMiB, 1), v && fixed(v.heapUsedMiB, 1)),
      pair(per(gw, g, 'rssMiB'), per(nv, v, 'rssMiB')),
      pair(per(gw, g, 'heapUsedMiB'), per(nv, v, 'heapUsedMiB')),
    ];
  });
  const lastOf = (r: IdleResult | undefined): IdleStep | undefined => r?.steps[r.steps.length - 1];
  const slope = (r: IdleResult | undefined, key: 'rssMiB' | 'heapUsedMiB'): number => {
    const last = lastOf(r);
    return r === undefined || last === undefined ? Number.NaN : perThousand(r.steps, last, key);
  };
  const top = s.steps[s.steps.length - 1] ?? 0;
  const heldLine = (r: IdleResult): string =>
    `${r.proxy} ${int(r.heldAfterHold)} of ${int(lastOf(r)?.connections ?? 0)} (${r.dropped} closed by it, ${r.goaways} GOAWAY, the oldest open ${Math.round(r.oldestHeldS)} s)`;
  const idleSummary =
    gw !== undefined && nv !== undefined
      ? `**Idle connections: ghostwire ${fixed(slope(gw, 'rssMiB'), 2)} MiB RSS per 1000 (${fixed(slope(gw, 'rssMiB') * 1.024, 2)} KiB each, ` +
        `${fixed(slope(gw, 'heapUsedMiB'), 2)} MiB of it V8 heap), the naive proxy ${fixed(slope(nv, 'rssMiB'), 2)} MiB ` +
        `(${fixed(slope(nv, 'heapUsedMiB'), 2)} MiB heap): ${fixed(slope(gw, 'rssMiB') / slope(nv, 'rssMiB'), 2)}× the naive proxy's, ` +
        `from 0 to ${int(top)} connections.** ` +
        `Held ${s.holdS} s more after the last step, then counted again: ${[gw, nv].map(heldLine).join('; ')}. ` +
        `Opening the last ${int(top - (s.steps[s.steps.length - 2] ?? 0))} took ${fixed(gw.openS, 1)} s (ghostwire), ${fixed(nv.openS, 1)} s (naive).`
      : '';

  const sg = streams.find((r) => r.proxy === 'ghostwire');
  const sn = streams.find((r) => r.proxy === 'naive');
  const perStreamKiB = (r: StreamsResult, key: 'rss' | 'heap'): number => {
    const n = r.connections * r.streamsPerConnection;
    const delta = key === 'rss' ? r.rssMiB - r.rssIdleMiB : r.heapUsedMiB - r.heapIdleMiB;
    return (delta * 1024) / n;
  };
  const streamRows = streams.map((r) => [
    r.proxy,
    `${int(r.connections)} × ${int(r.streamsPerConnection)}`,
    `${int(r.held)} / ${int(r.upstreamActive)}`,
    `${fixed(r.rssIdleMiB, 1)} → ${fixed(r.rssMiB, 1)}`,
    `${fixed(r.heapIdleMiB, 1)} → ${fixed(r.heapUsedMiB, 1)}`,
    `${fixed(perStreamKiB(r, 'rss'), 1)} / ${fixed(perStreamKiB(r, 'heap'), 1)}`,
    `${Math.round(r.cpuPercent)}%`,
    int(r.eventsPerS),
    fixed(((r.cpuPercent / 100) * 1e6) / r.eventsPerS, 1),
  ]);
  const streamSummary =
    sg !== undefined && sn !== undefined
      ? `**Streams: ghostwire held ${int(sg.held)} streams at ${Math.round(sg.cpuPercent)}% of a core and ` +
        `${fixed(perStreamKiB(sg, 'rss'), 1)} KiB RSS each; the naive proxy ${int(sn.held)} at ${Math.round(sn.cpuPercent)}% and ` +
        `${fixed(perStreamKiB(sn, 'rss'), 1)} KiB each (CPU ${fixed(sg.cpuPercent / sn.cpuPercent, 2)}×, memory per stream ` +
        `${fixed(perStreamKiB(sg, 'rss') / perStreamKiB(sn, 'rss'), 2)}× the naive proxy's).**`
      : '';

  return [
    `Connection scale benchmark: node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ` +
      `${os.type()} ${os.release()}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM, open-file limit ${int(s.fdLimit)}; took ${durationS} s. ` +
      `ghostwire is \`ghostwire serve\` with the launcher's flags (\`${SERVE_NODE_FLAGS.join(' ')}\`) and a config equal to ` +
      "`--upstream h2c://…` but for `auth: { mode: none }` and the deployment's `maxConcurrent` raised to the streams held; " +
      'naive is `bench/naive-proxy.ts` as in the runs above. Both also get `--expose-gc` and a preload (`bench/heap-probe.ts`) that, ' +
      'on SIGUSR2, runs a full GC and prints `process.memoryUsage()`: every RSS and heap figure is taken after that GC, so garbage not yet collected is not counted. ' +
      `RSS is VmRSS from \`/proc/<pid>/status\`. ${s.clients} client processes (\`bench/connections-client.ts\`) on 127.0.0.1 share the connections; ` +
      'each connection is a completed HTTP/2 handshake (SETTINGS both ways, both acknowledged) and then sends nothing. A fresh proxy per phase; ' +
      (s.pin ? 'the proxy pinned alone to CPU 1, simulator and clients on CPU 0.' : 'processes unpinned.') +
      (s.droppedSteps.length > 0
        ? ` Steps ${s.droppedSteps.map(int).join(', ')} left out: more than the open-file limit allows.`
        : ''),
    '',
    table(
      [
        'Idle connections',
        'Held ghostwire / naive',
        'RSS MiB ghostwire / naive',
        'Heap used MiB ghostwire / naive',
        'RSS MiB per 1000 conns ghostwire / naive',
        'Heap MiB per 1000 conns ghostwire / naive',
      ],
      idleRows,
    ),
    '',
    idleSummary,
    '',
    `Streams at steady state: M connections × K streaming completions each (Copilot protocol, \`ghostwire simulate --token-ms ${s.tokenMs} --max-tokens ${s.maxTokens}\`: ` +
      `a token every ${s.tokenMs} ms for ~${Math.round((s.tokenMs * s.maxTokens) / 1000)} s), all open at once; ` +
      `memory with the M connections alone → with the streams after they all started and 2 s passed; CPU over the next ${s.windowS} s.`,
    '',
    table(
      [
        'Proxy',
        'Connections × streams',
        'Streams held / upstream generations',
        'RSS MiB idle → streaming',
        'Heap MiB idle → streaming',
        'Per stream KiB RSS / heap',
        'CPU (of 1 core)',
        'Tokens/s',
        'CPU µs per token',
      ],
      streamRows,
    ),
    '',
    streamSummary,
    '',
    'Held: connections (streams) the clients had open with their handshake done (status 200, not ended) at the measurement. ' +
      "Upstream generations: the simulator's own count of completions in progress at the same moment. " +
      'Per 1000 conns: (RSS at the step − RSS with none) ÷ connections × 1000. Per stream: (RSS with the streams − RSS with their connections alone) ÷ streams. ' +
      "Tokens/s: SSE events the clients received per second during the window; CPU µs per token: the proxy's CPU in the window ÷ those events.",
    '',
  ].join('\n');
}

/** A proxy under test, with a way to read its heap (after a full GC) from outside. */
interface MeasuredProxy {
  service: Service;
  /** Full GC in the proxy, then its heap figures and VmRSS, in MiB. */
  memory(): Promise<{ rssMiB: number; heapUsedMiB: number; externalMiB: number }>;
}

async function startProxy(
  name: ProxyName,
  simUrl: string,
  configFile: string,
  fdLimit: number,
  pin: boolean,
): Promise<MeasuredProxy> {
  const probe = ['--expose-gc', '--import', pathToFileURL(join(ROOT, 'dist/bench/heap-probe.js')).href];
  const waiting: ((r: HeapReport) => void)[] = [];
  const onLine = (line: string): void => {
    if (!line.startsWith(HEAP_PROBE_MARKER)) return;
    waiting.shift()?.(JSON.parse(line.slice(HEAP_PROBE_MARKER.length + 1)) as HeapReport);
  };
  const args =
    name === 'ghostwire'
      ? [...SERVE_NODE_FLAGS, ...probe, join(ROOT, 'bin/ghostwire.js'), 'serve', '--config', configFile]
      : [...probe, join(ROOT, 'dist/bench/naive-proxy.js'), '--port', '0', '--upstream', simUrl];
  const service = await startService(name, args, { onLine, fdLimit });
  if (pin) pinToCpus(service.pid, PROXY_CPU);
  return {
    service,
    async memory() {
      const report = new Promise<HeapReport>((resolveReport, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no heap report within 10 s`)), 10_000);
        waiting.push((r) => {
          clearTimeout(timer);
          resolveReport(r);
        });
      });
      process.kill(service.pid, 'SIGUSR2');
      const r = await report;
      return {
        rssMiB: memoryMiB(service.pid).rss,
        heapUsedMiB: r.heapUsed / MiB,
        externalMiB: r.external / MiB,
      };
    },
  };
}

/** A client process: commands in, one JSON answer per command out. */
interface Client {
  ask(cmd: object, timeoutMs: number): Promise<Status>;
  close(): Promise<void>;
}

function startClient(index: number, fdLimit: number, pin: boolean): Client {
  const answers: ((line: string) => void)[] = [];
  const { child, tail } = spawnNode(`client-${index}`, [join(ROOT, 'dist/bench/connections-client.js')], {
    stdin: true,
    fdLimit,
    onLine: (line) => {
      if (line.startsWith('{')) answers.shift()?.(line);
    },
  });
  if (pin && child.pid !== undefined) pinToCpus(child.pid, LOAD_CPU);
  const ask = (cmd: object, timeoutMs: number): Promise<Status> =>
    new Promise((resolveAnswer, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`client-${index}: no answer to ${JSON.stringify(cmd)} in ${timeoutMs} ms\n${tail()}`),
          ),
        timeoutMs,
      );
      answers.push((line) => {
        clearTimeout(timer);
        const msg = JSON.parse(line) as Status | { event: 'error'; message: string } | { event: 'closed' };
        if (msg.event === 'status') resolveAnswer(msg);
        else if (msg.event === 'error') reject(new Error(`client-${index}: ${msg.message}`));
        else resolveAnswer(emptyStatus());
      });
      child.stdin?.write(JSON.stringify(cmd) + '\n');
    });
  return {
    ask,
    async close() {
      await ask({ cmd: 'close' }, 10_000).catch(() => {});
      await stop(child, 2000);
    },
  };
}

function emptyStatus(): Status {
  return {
    event: 'status',
    idleHeld: 0,
    idleFailed: 0,
    idleDropped: 0,
    goaways: 0,
    streamsOpen: 0,
    streamsEnded: 0,
    streamErrors: {},
    events: 0,
  };
}

function sumStatus(all: readonly Status[]): Status {
  const out = emptyStatus();
  for (const x of all) {
    out.idleHeld += x.idleHeld;
    out.idleFailed += x.idleFailed;
    out.idleDropped += x.idleDropped;
    out.goaways += x.goaways;
    out.streamsOpen += x.streamsOpen;
    out.streamsEnded += x.streamsEnded;
    out.events += x.events;
    for (const [k, v] of Object.entries(x.streamErrors)) out.streamErrors[k] = (out.streamErrors[k] ?? 0) + v;
  }
  return out;
}

/** Splits n into `parts` near-equal counts. */
export function split(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function idlePhase(
  s: ConnectionsSettings,
  name: ProxyName,
  simUrl: string,
  configFile: string,
  log: (msg: string) => void,
): Promise<IdleResult> {
  const proxy = await startProxy(name, simUrl, configFile, s.fdLimit, s.pin);
  const clients = Array.from({ length: s.clients }, (_, i) => startClient(i + 1, s.fdLimit, s.pin));
  try {
    const steps: IdleStep[] = [];
    let openS = 0;
    let firstOpenedAt: number | undefined;
    for (const n of s.steps) {
      const t0 = performance.now();
      const shares = split(n, s.clients);
      const status = sumStatus(
        await Promise.all(
          clients.map((c, i) => c.ask({ cmd: 'idle', url: proxy.service.url, count: shares[i] }, 120_000)),
        ),
      );
      openS = (performance.now() - t0) / 1000;
      if (n > 0) firstOpenedAt ??= t0;
      // Let the proxy finish whatever the handshakes started before reading its memory.
      await sleep(1000);
      const mem = await proxy.memory();
      const held = sumStatus(
        await Promise.all(clients.map((c) => c.ask({ cmd: 'status' }, 10_000))),
      ).idleHeld;
      steps.push({
        connections: n,
        held,
        rssMiB: mem.rssMiB,
        heapUsedMiB: mem.heapUsedMiB,
        externalMiB: mem.externalMiB,
      });
      log(
        `${name} idle ${n}: held ${held} (failed ${status.idleFailed}), RSS ${mem.rssMiB.toFixed(1)} MiB, heap ${mem.heapUsedMiB.toFixed(1)} MiB, opened in ${openS.toFixed(1)} s`,
      );
    }
    await sleep(s.holdS * 1000);
    const final = sumStatus(await Promise.all(clients.map((c) => c.ask({ cmd: 'status' }, 10_000))));
    return {
      proxy: name,
      steps,
      holdS: s.holdS,
      heldAfterHold: final.idleHeld,
      dropped: final.idleDropped,
      goaways: final.goaways,
      failedHandshakes: final.idleFailed,
      openS,
      oldestHeldS: firstOpenedAt === undefined ? 0 : (performance.now() - firstOpenedAt) / 1000,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await stop(proxy.service.child);
  }
}

async function streamsPhase(
  s: ConnectionsSettings,
  name: ProxyName,
  sim: Service,
  configFile: string,
  log: (msg: string) => void,
): Promise<StreamsResult> {
  const proxy = await startProxy(name, sim.url, configFile, s.fdLimit, s.pin);
  const clients = Array.from({ length: s.clients }, (_, i) => startClient(i + 1, s.fdLimit, s.pin));
  try {
    // The connections first, idle, for the baseline; then the streams on them.
    const shares = split(s.streamConnections, s.clients);
    await Promise.all(
      clients.map((c, i) =>
        c.ask({ cmd: 'connect', url: proxy.service.url, connections: shares[i] ?? 0 }, 30_000),
      ),
    );
    await sleep(500);
    const before = await proxy.memory();
    await Promise.all(
      clients.map((c) =>
        c.ask({ cmd: 'streams', streams: s.streamsPerConnection, maxTokens: s.maxTokens }, 60_000),
      ),
    );
    await sleep(2000);
    const status0 = sumStatus(await Promise.all(clients.map((c) => c.ask({ cmd: 'status' }, 10_000))));
    const cpu0 = cpuMicros(proxy.service.pid);
    const t0 = performance.now();
    await sleep(s.windowS * 1000);
    const cpu1 = cpuMicros(proxy.service.pid);
    const t1 = performance.now();
    const status1 = sumStatus(await Promise.all(clients.map((c) => c.ask({ cmd: 'status' }, 10_000))));
    const simStats = JSON.parse(await simRequest('GET', `${sim.url}/stats`)) as SimulatorStats;
    const after = await proxy.memory();
    const wallUs = (t1 - t0) * 1000;
    const r: StreamsResult = {
      proxy: name,
      connections: s.streamConnections,
      streamsPerConnection: s.streamsPerConnection,
      held: status1.streamsOpen,
      upstreamActive: simStats.active,
      errors: status1.streamErrors,
      ended: status1.streamsEnded,
      rssIdleMiB: before.rssMiB,
      heapIdleMiB: before.heapUsedMiB,
      rssMiB: after.rssMiB,
      heapUsedMiB: after.heapUsedMiB,
      cpuPercent: ((cpu1 - cpu0) / wallUs) * 100,
      eventsPerS: ((status1.events - status0.events) / wallUs) * 1e6,
    };
    log(
      `${name} streams ${s.streamConnections}×${s.streamsPerConnection}: held ${r.held} (simulator active ${r.upstreamActive}), ` +
        `RSS ${r.rssIdleMiB.toFixed(1)} → ${r.rssMiB.toFixed(1)} MiB, CPU ${r.cpuPercent.toFixed(0)}%, ${Math.round(r.eventsPerS)} tokens/s`,
    );
    return r;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await stop(proxy.service.child);
  }
}

async function main(): Promise<void> {
  const s = parseSettings(process.argv.slice(2));
  mkdirSync(TMP, { recursive: true });
  const started = Date.now();
  const log = (msg: string): void =>
    void process.stderr.write(
      `[connections ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`,
    );
  if (s.droppedSteps.length > 0)
    log(
      `open-file hard limit ${s.fdLimit}: steps ${s.droppedSteps.join(', ')} left out (raise it with ulimit -Hn)`,
    );
  const boundMs = 240_000 + s.steps.length * 30_000 + 2 * s.holdS * 1000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`connections: FAILED: still running after ${boundMs / 1000} s\n`);
    process.exit(1);
  }, boundMs);
  watchdog.unref();

  const streams = s.streamConnections * s.streamsPerConnection;
  const sim = await startService('simulator', [
    join(ROOT, 'bin/ghostwire.js'),
    'simulate',
    '--port',
    '0',
    '--ttft-ms',
    '1',
    '--token-ms',
    String(s.tokenMs),
    '--max-tokens',
    String(s.maxTokens),
    '--slots',
    String(Math.max(64, streams)),
  ]);
  try {
    if (s.pin && !pinToCpus(sim.pid, LOAD_CPU)) {
      s.pin = false;
      log('taskset unavailable: running unpinned');
    }
    const configFile = join(TMP, 'connections-gateway.json');
    writeFileSync(configFile, JSON.stringify(gatewayConfig(sim.url, streams), null, 2) + '\n');
    const idle: IdleResult[] = [];
    for (const name of PROXIES) idle.push(await idlePhase(s, name, sim.url, configFile, log));
    const held: StreamsResult[] = [];
    for (const name of PROXIES) {
      held.push(await streamsPhase(s, name, sim, configFile, log));
      // The cancelled generations leave the simulator before the next proxy's phase starts.
      for (
        let i = 0;
        i < 50 && (JSON.parse(await simRequest('GET', `${sim.url}/stats`)) as SimulatorStats).active > 0;
        i++
      )
        await sleep(100);
    }
    const durationS = Math.round((Date.now() - started) / 1000);
    process.stdout.write(renderMarkdown(s, idle, held, durationS));
    if (s.json !== undefined)
      writeFileSync(s.json, JSON.stringify({ settings: s, idle, streams: held }, null, 2) + '\n');
    const problems = checkResults(s, idle, held);
    if (problems.length > 0) {
      process.stdout.write(
        `\n**FAILED: ${problems.length} check(s)**; the numbers above are not to be trusted:\n\n` +
          problems.map((p) => `- ${p}`).join('\n') +
          '\n',
      );
      throw new Error(`${problems.length} check(s) failed:\n  ${problems.join('\n  ')}`);
    }
    log(`all checks passed (${durationS} s)`);
  } finally {
    clearTimeout(watchdog);
    await stop(sim.child);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`connections: FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
