import type { ProfileSummary } from './profile.js';
import { SERVE_NODE_FLAGS } from '../src/cli/launcher.js';
import type { RunKind, RunRecord, Settings, TargetName } from './run.js';
import { median } from './stats.js';

/** Where and when the run happened. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  kernel: string;
  date: string;
  durationS: number;
  /** Runs measured again because something outside the benchmark took the CPU. */
  reruns: number;
  /** The markdown table printed by bench/token-verify.ts, run in the same session; undefined if skipped. */
  tokenVerify?: string | undefined;
  /** The markdown table printed by bench/routing-pick.ts; undefined if skipped. */
  routingPick?: string | undefined;
  protocols?: string | undefined;
  /** The markdown printed by bench/affinity-bench.ts (table, summary, any failed checks); undefined if skipped. */
  affinity?: string | undefined;
  /** The markdown printed by bench/connections.ts; undefined if skipped. */
  connections?: string | undefined;
  /** The markdown printed by bench/cancellation.ts (its own `## ` heading); undefined if skipped. */
  cancellation?: string | undefined;
  /** The markdown printed by bench/typing.ts (its own `## ` heading); undefined if skipped. */
  typing?: string | undefined;
  /** The markdown printed by bench/policy.ts (its own `## ` heading); undefined if skipped. */
  policy?: string | undefined;
  /** The markdown printed by bench/workers.ts (its own `## ` heading); undefined if skipped. */
  workers?: string | undefined;
  /** The HAProxy peer: its version and generated config, or why it was left out; undefined if not asked for. */
  haproxy?: HaproxyInfo | undefined;
}

/** The HAProxy target as run (version and the config bench/haproxy.ts generated), or why it was skipped. */
export type HaproxyInfo = { version: string; config: string } | { skipped: string };

/** The issue-2 targets, in one place so the report and the verdicts cannot drift apart. */
/** The V8 flags ghostwire's launcher runs `serve` with, as the report names them. */
const SERVE_FLAGS = SERVE_NODE_FLAGS.join(' ');

export const TARGETS = {
  cpuRatioMax: 1.3,
  addedP50MaxMs: 0.5,
} as const;

/** Latency this run added over direct-to-simulator in the same round (fixed-rate runs only). */
interface Added {
  ttfbP50: number;
  ttfbP99: number;
  totalP50: number;
  totalP99: number;
}

function addedFor(run: RunRecord, runs: readonly RunRecord[]): Added | undefined {
  if (run.kind !== 'fixed' || run.target === 'direct') return undefined;
  const direct = runs.find((r) => r.kind === 'fixed' && r.round === run.round && r.target === 'direct');
  if (direct === undefined) return undefined;
  return {
    ttfbP50: run.load.ttfb.p50 - direct.load.ttfb.p50,
    ttfbP99: run.load.ttfb.p99 - direct.load.ttfb.p99,
    totalP50: run.load.total.p50 - direct.load.total.p50,
    totalP99: run.load.total.p99 - direct.load.total.p99,
  };
}

const ms = (v: number): string => (Number.isNaN(v) ? '—' : v.toFixed(2));
const signedMs = (v: number): string =>
  Number.isNaN(v) ? '—' : `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;
const int = (v: number | undefined): string =>
  v === undefined || Number.isNaN(v) ? '—' : Math.round(v).toLocaleString('en-US');
const pass = (ok: boolean): string => (ok ? '**PASS**' : '**FAIL**');

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** A markdown table; the first `leftColumns` columns are left-aligned, the rest (numbers) right-aligned. */
function table(header: string[], rows: string[][], leftColumns = 2): string {
  const align = header.map((_, i) => (i < leftColumns ? '---' : '---:'));
  return [row(header), row(align), ...rows.map(row)].join('\n');
}

function fixedTable(runs: readonly RunRecord[]): string {
  const rows = runs
    .filter((r) => r.kind === 'fixed')
    .map((r) => {
      const a = addedFor(r, runs);
      return [
        String(r.round),
        r.target,
        int(r.load.rps),
        int(r.proxyCpuUsPerReq),
        `${ms(r.load.ttfb.p50)} / ${ms(r.load.ttfb.p99)}`,
        `${ms(r.load.total.p50)} / ${ms(r.load.total.p99)}`,
        a === undefined ? '—' : `${signedMs(a.ttfbP50)} / ${signedMs(a.ttfbP99)}`,
        a === undefined ? '—' : `${signedMs(a.totalP50)} / ${signedMs(a.totalP99)}`,
        `${int(r.simCpuUsPerReq)} / ${int(r.load.clientCpuUsPerReq)}`,
        ms(r.load.lagMs.p99),
        otherCell(r),
      ];
    });
  return table(
    [
      'Round',
      'Target',
      'Req/s',
      'Proxy CPU µs/req',
      'TTFB p50 / p99 ms',
      'Total p50 / p99 ms',
      'Added TTFB p50 / p99 ms',
      'Added total p50 / p99 ms',
      'Sim / client CPU µs/req',
      'Send lag p99 ms',
      'Other CPU',
    ],
    rows,
  );
}

function maxTable(runs: readonly RunRecord[]): string {
  const rows = runs
    .filter((r) => r.kind === 'max')
    .map((r) => [
      String(r.round),
      r.target,
      int(r.load.rps),
      int(r.proxyCpuUsPerReq),
      r.proxyCpuPercent === undefined ? '—' : `${Math.round(r.proxyCpuPercent)}%`,
      r.proxyRssMiB === undefined ? '—' : r.proxyRssMiB.toFixed(0),
      `${ms(r.load.ttfb.p50)} / ${ms(r.load.ttfb.p99)}`,
      `${ms(r.load.total.p50)} / ${ms(r.load.total.p99)}`,
      `${int(r.simCpuUsPerReq)} / ${int(r.load.clientCpuUsPerReq)}`,
      otherCell(r),
    ]);
  return table(
    [
      'Round',
      'Target',
      'Req/s',
      'Proxy CPU µs/req',
      'Proxy CPU (of 1 core)',
      'Proxy RSS MiB',
      'TTFB p50 / p99 ms',
      'Total p50 / p99 ms',
      'Sim / client CPU µs/req',
      'Other CPU',
    ],
    rows,
  );
}

interface TargetSummary {
  fixedCpu: number;
  maxCpu: number;
  maxRps: number;
  added: Added;
}

/** A run during which more than this much of a core went to processes outside the benchmark. */
export const DISTURBED_OTHER_CPU_PERCENT = 25;

const isClean = (r: RunRecord): boolean => r.otherCpuPercent <= DISTURBED_OTHER_CPU_PERCENT;
const otherCell = (r: RunRecord): string =>
  `${Math.round(r.otherCpuPercent)}%${isClean(r) ? '' : ' (disturbed)'}`;

/** The clean runs if there are any, else all of them: a disturbed run only counts when nothing better exists. */
function preferClean<T>(items: readonly T[], clean: (t: T) => boolean): T[] {
  const good = items.filter(clean);
  return good.length > 0 ? good : [...items];
}

function summarize(runs: readonly RunRecord[], target: TargetName): TargetSummary {
  const of = (kind: RunKind): RunRecord[] =>
    preferClean(
      runs.filter((r) => r.kind === kind && r.target === target),
      isClean,
    );
  const fixed = of('fixed');
  const max = of('max');
  // An added-latency value needs both its run and the same round's direct run undisturbed.
  const added = preferClean(
    runs.filter((r) => r.kind === 'fixed' && r.target === target).map((r) => ({ r, a: addedFor(r, runs) })),
    ({ r }) =>
      isClean(r) &&
      runs.some((d) => d.kind === 'fixed' && d.round === r.round && d.target === 'direct' && isClean(d)),
  )
    .map(({ a }) => a)
    .filter((a): a is Added => a !== undefined);
  return {
    fixedCpu: median(fixed.map((r) => r.proxyCpuUsPerReq ?? Number.NaN)),
    maxCpu: median(max.map((r) => r.proxyCpuUsPerReq ?? Number.NaN)),
    maxRps: median(max.map((r) => r.load.rps)),
    added: {
      ttfbP50: median(added.map((a) => a.ttfbP50)),
      ttfbP99: median(added.map((a) => a.ttfbP99)),
      totalP50: median(added.map((a) => a.totalP50)),
      totalP99: median(added.map((a) => a.totalP99)),
    },
  };
}

function summarySection(s: Settings, runs: readonly RunRecord[]): string {
  const present = (t: TargetName): boolean => runs.some((r) => r.target === t);
  const lines: string[] = [];
  const rows: string[][] = [];
  for (const t of ['direct', 'naive', 'naive-gc', 'haproxy', 'ghostwire'] as const) {
    if (!present(t)) continue;
    const m = summarize(runs, t);
    rows.push([
      t,
      int(m.maxRps),
      int(m.fixedCpu),
      int(m.maxCpu),
      t === 'direct' ? '—' : `${signedMs(m.added.ttfbP50)} / ${signedMs(m.added.ttfbP99)}`,
      t === 'direct' ? '—' : `${signedMs(m.added.totalP50)} / ${signedMs(m.added.totalP99)}`,
    ]);
  }
  lines.push(
    table(
      [
        'Target',
        'Max req/s',
        `Proxy CPU µs/req @ ${s.rate} rps`,
        'Proxy CPU µs/req @ max',
        `Added TTFB p50 / p99 ms @ ${s.rate} rps`,
        `Added total p50 / p99 ms @ ${s.rate} rps`,
      ],
      rows,
    ),
  );
  const disturbed = runs.filter((r) => !isClean(r)).length;
  lines.push(
    '',
    `Medians over ${s.rounds} round${s.rounds === 1 ? '' : 's'}; every run is listed below.` +
      (disturbed > 0
        ? ` ${disturbed} run${disturbed === 1 ? ' was' : 's were'} disturbed (more than ${DISTURBED_OTHER_CPU_PERCENT}% of a core went to other processes) and ` +
          'left out of the medians wherever an undisturbed run of the same target and kind exists.'
        : ''),
    '',
  );
  if (present('ghostwire') && present('naive') && present('direct')) {
    const gw = summarize(runs, 'ghostwire');
    const nv = summarize(runs, 'naive');
    const ratio = gw.fixedCpu / nv.fixedCpu;
    const ratioMax = gw.maxCpu / nv.maxCpu;
    const ttfbP50Ok = gw.added.ttfbP50 < TARGETS.addedP50MaxMs;
    const totalP50Ok = gw.added.totalP50 < TARGETS.addedP50MaxMs;
    const ttfbP99Ok = gw.added.ttfbP99 <= nv.added.ttfbP99;
    const totalP99Ok = gw.added.totalP99 <= nv.added.totalP99;
    lines.push(
      `- **CPU per streamed completion**, ghostwire / naive: **${ratio.toFixed(2)}×** at ${s.rate} rps ` +
        `(${int(gw.fixedCpu)} vs ${int(nv.fixedCpu)} µs), ${ratioMax.toFixed(2)}× at max throughput ` +
        `(${int(gw.maxCpu)} vs ${int(nv.maxCpu)} µs). Target ≤ ${TARGETS.cpuRatioMax}× at ${s.rate} rps: ${pass(ratio <= TARGETS.cpuRatioMax)}` +
        roundRatios(runs, 'naive'),
      `- **Added p50 latency** at ${s.rate} rps, ghostwire: time to first token ${signedMs(gw.added.ttfbP50)} ms ` +
        `(target < ${TARGETS.addedP50MaxMs} ms: ${pass(ttfbP50Ok)}); end of stream ${signedMs(gw.added.totalP50)} ms ` +
        `(target < ${TARGETS.addedP50MaxMs} ms: ${pass(totalP50Ok)}). Naive: ${signedMs(nv.added.ttfbP50)} / ${signedMs(nv.added.totalP50)} ms.`,
      `- **Added p99 latency** at ${s.rate} rps, ghostwire: time to first token ${signedMs(gw.added.ttfbP99)} ms, ` +
        `end of stream ${signedMs(gw.added.totalP99)} ms; naive: ${signedMs(nv.added.ttfbP99)} / ${signedMs(nv.added.totalP99)} ms. ` +
        `Target ≤ naive's: ${pass(ttfbP99Ok)} (first token), ${pass(totalP99Ok)} (end of stream)`,
      `- **Max throughput**: ghostwire ${int(gw.maxRps)} req/s, naive ${int(nv.maxRps)} req/s ` +
        `(${((gw.maxRps / nv.maxRps) * 100).toFixed(0)}% of naive).`,
    );
    if (present('naive-gc')) {
      const ng = summarize(runs, 'naive-gc');
      lines.push(
        `- **Against the naive proxy with ghostwire's V8 flags** (naive-gc, \`${SERVE_FLAGS}\`): CPU ` +
          `${(gw.fixedCpu / ng.fixedCpu).toFixed(2)}× (${int(gw.fixedCpu)} vs ${int(ng.fixedCpu)} µs); added p50 ` +
          `${signedMs(gw.added.ttfbP50)} vs ${signedMs(ng.added.ttfbP50)} ms (first token); added p99 ` +
          `${signedMs(gw.added.ttfbP99)} vs ${signedMs(ng.added.ttfbP99)} ms (first token), ` +
          `${signedMs(gw.added.totalP99)} vs ${signedMs(ng.added.totalP99)} ms (end of stream); max ` +
          `${int(gw.maxRps)} vs ${int(ng.maxRps)} req/s. The flags are part of how ghostwire runs ` +
          '(its launcher adds them), not of the naive proxy anyone would write; this row shows what they alone are worth.',
      );
    }
  } else {
    lines.push('- Verdicts need all three targets (direct, naive, ghostwire) in the run.');
  }
  if (present('ghostwire') && present('haproxy') && present('direct')) {
    const gw = summarize(runs, 'ghostwire');
    const hp = summarize(runs, 'haproxy');
    lines.push(
      `- **Against HAProxy** (a peer written in C, one thread, h2c both sides; not an issue-2 target, the verdicts above stay ghostwire vs naive): ` +
        `CPU per streamed completion ghostwire / HAProxy **${(gw.fixedCpu / hp.fixedCpu).toFixed(2)}×** at ${s.rate} rps ` +
        `(${int(gw.fixedCpu)} vs ${int(hp.fixedCpu)} µs), ${(gw.maxCpu / hp.maxCpu).toFixed(2)}× at max throughput ` +
        `(${int(gw.maxCpu)} vs ${int(hp.maxCpu)} µs)` +
        roundRatios(runs, 'haproxy') +
        `; added p50 ${signedMs(gw.added.ttfbP50)} vs ${signedMs(hp.added.ttfbP50)} ms (first token), ` +
        `${signedMs(gw.added.totalP50)} vs ${signedMs(hp.added.totalP50)} ms (end of stream); added p99 ` +
        `${signedMs(gw.added.ttfbP99)} vs ${signedMs(hp.added.ttfbP99)} ms (first token), ` +
        `${signedMs(gw.added.totalP99)} vs ${signedMs(hp.added.totalP99)} ms (end of stream); max ` +
        `${int(gw.maxRps)} vs ${int(hp.maxRps)} req/s.`,
    );
  }
  return lines.join('\n');
}

function profileSection(profile: ProfileSummary | string): string {
  if (typeof profile === 'string') return `## ghostwire CPU profile\n\nNot available: ${profile}\n`;
  const rows = profile.top
    .slice(0, 15)
    .map((e) => [
      e.name.replace(/\|/g, '\\|'),
      e.location === '' ? '—' : `\`${e.location}\``,
      e.caller === '' ? '—' : `\`${e.caller.replace(/\|/g, '\\|')}\``,
      e.selfMs.toFixed(0),
      `${e.percent.toFixed(1)}%`,
    ]);
  const areas = profile.byArea.slice(0, 8).map((a) => `${a.area} ${a.percent.toFixed(1)}%`);
  return [
    '## ghostwire CPU profile',
    '',
    `A separate ghostwire instance under \`node --cpu-prof\`, one max-throughput run; samples outside the measured window are left out. ` +
      `Busy ${profile.busyMs} ms, idle ${profile.idleMs} ms; percentages are of busy time.`,
    '',
    `By area: ${areas.join(', ')}.`,
    '',
    table(['Function (top 15 self time)', 'Where', 'Main caller', 'Self ms', 'Self %'], rows, 3),
    '',
  ].join('\n');
}

/** The whole docs/benchmarks.md. */
export function renderReport(
  s: Settings,
  runs: readonly RunRecord[],
  profile: ProfileSummary | string | undefined,
  m: MachineInfo,
): string {
  const warnings = runs.flatMap((r) => r.warnings.map((w) => `round ${r.round} ${r.kind}: ${w}`));
  const sim = s.sim;
  const simName =
    sim.kind === 'real'
      ? '`ghostwire simulate`'
      : 'the bench stand-in `bench/fixtures/tiny-upstream.ts` (not the real simulator)';
  const order = s.targets.join(' → ');
  const parts = [
    '# Benchmarks',
    '',
    `> Generated by \`npm run bench${s.argv.length > 0 ? ` -- ${s.argv.join(' ')}` : ''}\` (bench/run.ts). ` +
      'Do not edit by hand: rerun it to regenerate.',
    '',
    '## Machine and settings',
    '',
    `- **Machine**: ${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${m.node}. Run on ${m.date}, took ${m.durationS} s` +
      (m.reruns > 0
        ? `; ${m.reruns} disturbed run${m.reruns === 1 ? ' was' : 's were'} measured again.`
        : '.'),
    s.pin
      ? `- **Everything on one machine, pinned**: load client, simulator and proxy are separate processes on 127.0.0.1; the proxy under test (naive, naive-gc, HAProxy or ghostwire) runs alone on CPU 1, the simulator and load client share CPU 0 (\`taskset\`), the same for every target.`
      : `- **Everything on one machine**: load client, simulator and proxy are separate processes on 127.0.0.1 sharing the ${m.cores} cores (unpinned).`,
    `- **Upstream**: ${simName} with \`--ttft-ms ${sim.ttftMs} --token-ms ${sim.tokenMs} --max-tokens ${sim.maxTokens} --slots ${sim.slots}\`.`,
    `- **Requests**: Copilot protocol, \`POST /v1/engines/default/completions\`, \`stream: true\`, \`max_tokens: ${s.maxTokens}\`, ` +
      `${(s.promptBytes.min / 1024).toFixed(1)}–${(s.promptBytes.max / 1024).toFixed(1)} KB JSON bodies, over ${s.connections} h2c connections (round-robin), ` +
      (s.client === 'raw'
        ? "sent by the bench's minimal h2c client (`bench/h2-client.ts`)."
        : 'sent with node:http2.'),
    `- **Fixed rate**: open loop at ${s.rate} req/s for ${s.fixedS} s after ${s.warmupS} s warm-up. ` +
      `**Max throughput**: closed loop, ${s.concurrency} in flight, ${s.maxS} s after ${s.warmupS} s warm-up.`,
    `- **Interleaving**: ${s.rounds} round${s.rounds === 1 ? '' : 's'}, each running ${s.kinds.map((k) => `${order} ${k === 'fixed' ? 'at the fixed rate' : 'at max throughput'}`).join(', then ')}.` +
      ` Direct is the simulator with no proxy in between; naive is \`bench/naive-proxy.ts\` as anyone would run it (\`node naive-proxy.js\`);` +
      ` naive-gc is the same with ghostwire's V8 flags (\`${SERVE_FLAGS}\`);` +
      (m.haproxy !== undefined && 'version' in m.haproxy
        ? ` haproxy is HAProxy ${m.haproxy.version} (the Debian package) with the config below: one thread (\`nbthread 1\`, like the single-threaded Node proxies), h2c in and out, \`http-reuse always\`, no logging or compression;`
        : '') +
      ' ghostwire runs as its launcher runs `serve`, with those flags.' +
      " The proxies use one upstream HTTP/2 connection for all requests, direct uses the load client's own connections: over one connection the simulator alone ends streams ~0.2–0.3 ms later at the median, which shows in the Node proxies' added end-of-stream time.",
    ...(m.haproxy !== undefined && 'skipped' in m.haproxy
      ? [`- **HAProxy**: not in this run: ${m.haproxy.skipped}.`]
      : []),
    '',
    '## Summary',
    '',
    summarySection(s, runs),
    '',
    `## Fixed rate: ${s.rate} req/s (open loop)`,
    '',
    fixedTable(runs),
    '',
    '## Max throughput (closed loop)',
    '',
    maxTable(runs),
    '',
    'Latency in a closed loop is throughput-bound (Little\'s law), so no "added" columns here.',
    '',
  ];
  if (m.haproxy !== undefined && 'config' in m.haproxy)
    parts.push(
      '## HAProxy configuration',
      '',
      `The config \`bench/haproxy.ts\` generated for this run, as HAProxy ${m.haproxy.version} ran it ` +
        '(`haproxy -db -f <file>`: foreground, one process, whose CPU is measured; the ports change every run):',
      '',
      '```haproxy',
      m.haproxy.config.trim(),
      '```',
      '',
    );
  if (profile !== undefined) parts.push(profileSection(profile));
  if (m.tokenVerify !== undefined)
    parts.push(
      '## Token verification',
      '',
      'Issue 3 target: verifying a gateway token costs under 5 µs per request. `bench/token-verify.ts`, ' +
        'one process, after the runs above (`node dist/bench/token-verify.js` reruns it alone):',
      '',
      m.tokenVerify.trim(),
      '',
    );
  if (m.routingPick !== undefined)
    parts.push(
      '## Routing decision',
      '',
      "What choosing a deployment costs per completion (issue 4): `Router.acquire()` and the lease's " +
        'release, no sockets. `bench/routing-pick.ts`, one process (`node dist/bench/routing-pick.js` reruns it alone):',
      '',
      m.routingPick.trim(),
      '',
    );
  if (m.protocols !== undefined)
    parts.push(
      '## Protocols',
      '',
      'What the protocol layer costs per completion (issue 5): the answer from upstream bytes to client bytes, ' +
        'for each upstream format, by the way the gateway takes in production (untouched, watched for stop ' +
        'sequences, or decoded and re-encoded; see [protocols](protocols.md#how-an-answer-reaches-the-client)). The upstream streams ' +
        "are the simulator's own bytes for each format, one chunk per token. `bench/protocols.ts`, one process, no sockets " +
        '(`node dist/bench/protocols.js` reruns it alone):',
      '',
      m.protocols.trim(),
      '',
    );
  if (m.affinity !== undefined)
    parts.push(
      '## Cache affinity',
      '',
      'What `routing.affinity` buys: the prefix-cache hit rate of three simulators behind one gateway ' +
        'with affinity off (power of two choices) and on (bounded-load rendezvous hashing on session id + prompt head), ' +
        'the latency that follows, and how evenly the simulators share the load. `bench/affinity-bench.ts`, its own ' +
        'processes, after the runs above (`node dist/bench/affinity-bench.js` reruns it alone):',
      '',
      m.affinity.trim(),
      '',
    );
  if (m.cancellation !== undefined)
    parts.push(
      withRerun(
        m.cancellation,
        'When an editor resets a stream, does the model server hear of it, how fast, and how many tokens are made for nobody: ' +
          'the client straight to the simulator, the naive proxy, HAProxy and ghostwire, each its own process. ' +
          '`bench/cancellation.ts`, after the runs above (`node dist/bench/cancellation.js` reruns it alone).',
      ),
      '',
    );
  if (m.typing !== undefined)
    parts.push(
      withRerun(
        m.typing,
        '`ghostwire loadgen` developers typing through real source files against ghostwire: what they wait for at each pause, ' +
          'and what the GPUs generate per suggestion a developer saw, for a client that resets, one that never cancels, ' +
          'and that one with supersession on. `bench/typing.ts` (`node dist/bench/typing.js` reruns it alone; ' +
          '[loadgen](loadgen.md) explains the numbers).',
      ),
      '',
    );
  if (m.connections !== undefined)
    parts.push(
      '## Connection scale',
      '',
      'How many idle HTTP/2 client connections one gateway process holds and what each costs in memory, ' +
        'then many long-running streams at once: the memory and CPU of holding them. ghostwire and the naive proxy ' +
        'side by side, same steps, same clients. `bench/connections.ts`, its own processes, after the runs above ' +
        '(`node dist/bench/connections.js` reruns it alone):',
      '',
      m.connections.trim(),
      '',
    );
  if (m.policy !== undefined)
    parts.push(
      withRerun(
        m.policy,
        'What `policy:` costs per request: the gateway with no policy and with 50 rewrite rules and 3 experiments, ' +
          'same traffic, interleaved. `bench/policy.ts` (`node dist/bench/policy.js` reruns it alone; ' +
          '`--variants none,policy,rules,experiments,idle` splits the cost).',
      ),
      '',
    );
  if (m.workers !== undefined)
    parts.push(
      withRerun(
        m.workers,
        'Requests/s at maximum throughput with `serve --workers 1` and `--workers 2`. `bench/workers.ts` ' +
          '(`node dist/bench/workers.js` reruns it alone).',
      ),
      '',
    );
  parts.push(
    '## Warnings',
    '',
    warnings.length === 0
      ? 'None: every run reached its rate with no errors.'
      : warnings.map((w) => `- ${w}`).join('\n'),
    '',
  );
  parts.push(
    '## What the numbers mean',
    '',
    '- **Req/s**: streamed completions that ended with `data: [DONE]`, per second of the measured phase.',
    '- **Proxy CPU µs/req**: user+system CPU of the proxy process (`/proc/<pid>/stat`) over the measured phase only, divided by requests. Ticks are 10 ms, so runs last seconds.',
    '- **TTFB**: from writing the request to the first body byte (the first token event). **Total**: to the end of the stream.',
    '- **Added**: this target minus direct-to-simulator in the same round, percentile by percentile.',
    '- **Send lag**: how late the open-loop client wrote requests against its schedule; large values mean the machine, not the proxy, was short of CPU.',
    '- **Sim / client CPU**: the same per-request CPU for the simulator and the load client, to show neither was the bottleneck.',
    "- **Other CPU**: busy CPU of the whole machine (`/proc/stat`) minus that of the benchmark's processes, in % of one core: kernel network work done on their behalf plus anything else running. Runs well above the others were disturbed.",
    '',
  );
  return parts.join('\n');
}

/** A section that brings its own `## ` heading: the heading, then what it is and how to rerun it, then the rest. */
function withRerun(section: string, intro: string): string {
  const text = section.trim();
  const nl = text.indexOf('\n');
  if (!text.startsWith('## ') || nl === -1) return `${intro}\n\n${text}`;
  return `${text.slice(0, nl)}\n\n${intro}\n${text.slice(nl)}`;
}

/** ghostwire's CPU over a peer's round by round (each round runs them back to back), to show the spread medians hide. */
function roundRatios(runs: readonly RunRecord[], peer: TargetName): string {
  const ratios: string[] = [];
  for (const r of runs) {
    if (r.kind !== 'fixed' || r.target !== 'ghostwire' || r.proxyCpuUsPerReq === undefined) continue;
    const p = runs.find((x) => x.round === r.round && x.kind === 'fixed' && x.target === peer);
    if (p?.proxyCpuUsPerReq !== undefined)
      ratios.push(`${(r.proxyCpuUsPerReq / p.proxyCpuUsPerReq).toFixed(2)}×`);
  }
  return ratios.length > 1 ? ` (round by round: ${ratios.join(', ')})` : '';
}
