// Policy cost benchmark: the gateway's CPU per request with no policy vs with 50 rewrite rules and
// 3 experiments configured (issue 7: less than +10%). Real processes on 127.0.0.1: one
// `ghostwire simulate`, per run a fresh `ghostwire serve --config` (the configs differ only in
// `policy`), and `bench/load.ts --editors` at a fixed rate with a real gateway token, so rules
// see the editor and plugin headers they match on and experiments a verified user. Runs are
// interleaved (none, policy, none, policy, ...) and the ratio is taken round by round.
// Prints progress on stderr and a markdown section on stdout; exits 1 if a check fails.
//
//   npx tsc -p . && node dist/bench/policy.js [--quick] [--rounds N] [--rate RPS] [--no-pin]
import { mkdirSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { hashApiKey } from '../src/auth/verifiers/static.js';
import { SERVE_NODE_FLAGS } from '../src/cli/launcher.js';
import { measuredLoad, type MeasuredLoad } from './measured-load.js';
import { pinToCpus, startService, stop, type Service } from './processes.js';
import { simRequest, simStats } from './sim-http.js';
import { DISTURBED_OTHER_CPU_PERCENT } from './report.js';
import { median } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TMP = join(ROOT, '.bench-tmp');
const BIN = join(ROOT, 'bin/ghostwire.js');
/** The gateway gets CPU 1 to itself; the simulator, the load client and this process share CPU 0. */
const GATEWAY_CPU = '1';
const LOAD_CPU = '0';
/** One user per load connection (as an editor is one user on one connection): experiments split them. */
const USERS = Array.from({ length: 8 }, (_, i) => ({
  uid: `dev-${i + 1}`,
  key: `gw_policy-bench-key-${i + 1}-0123456789abcdef`,
}));

export interface Settings {
  rounds: number;
  /** Measured every round, in this order; none always. */
  variants: Variant[];
  rate: number;
  durationS: number;
  warmupS: number;
  connections: number;
  maxTokens: number;
  pin: boolean;
}

export const DEFAULTS: Readonly<Omit<Settings, 'pin' | 'variants'>> = Object.freeze({
  rounds: 3,
  rate: 1500,
  durationS: 8,
  warmupS: 2,
  connections: 8,
  maxTokens: 8,
});

/** The most CPU per request the policy may add (issue 7). */
export const MAX_POLICY_CPU_RATIO = 1.1;

/** What the two configs share: one model on the simulator, token auth with one bench user. */
function baseConfig(simUrl: string): Record<string, unknown> {
  return {
    listeners: [{ host: '127.0.0.1', port: 0 }],
    deployments: [
      { name: 'sim', url: simUrl.replace(/^http:/, 'h2c:') },
      { name: 'sim-b', url: simUrl.replace(/^http:/, 'h2c:') },
    ],
    models: [
      { name: 'default', deployments: ['sim', 'sim-b'] },
      { name: 'default-next', deployments: ['sim'] },
    ],
    auth: {
      mode: 'tokens',
      signingKeys: [{ id: 'bench', secret: 'policy-bench-signing-secret-0123456789abcdef' }],
      verifier: {
        type: 'static',
        users: USERS.map((u) => ({
          uid: u.uid,
          login: u.uid,
          sku: 'copilot_enterprise_seat',
          org: 'acme',
          apiKeySha256: hashApiKey(u.key),
        })),
      },
    },
  };
}

/**
 * 50 rules of the kinds operators write, against the editors bench/workload.ts sends (some match,
 * most do not), and 3 experiments whose arms change parameters or deployments.
 */
export function policySection(): Record<string, unknown> {
  const rules: Record<string, unknown>[] = [];
  // Old Copilot plugins: a ladder of version ranges, each fixing something (clamp, stop, bias).
  for (let i = 0; i < 20; i++)
    rules.push({
      name: `copilot-lt-1.${100 + i * 8}`,
      match: { plugin: `copilot <1.${100 + i * 8}.0` },
      clamp: { max_tokens: { max: 64 + i } },
      ...(i % 3 === 0 ? { addStop: ['\n\n\n'] } : {}),
    });
  // Editors by version.
  for (let i = 0; i < 10; i++)
    rules.push({
      name: `vscode-lt-1.${80 + i}`,
      match: { editor: `vscode <1.${80 + i}.0` },
      set: { temperature: 0.1 + i / 100 },
    });
  // Other models: never this traffic (the index should skip them).
  for (let i = 0; i < 8; i++)
    rules.push({ name: `model-${i}`, match: { model: `other-model-${i}-*` }, set: { max_tokens: 32 } });
  // Languages (the bench bodies are TypeScript).
  for (const lang of ['python', 'go', 'rust', 'java', 'typescript', 'markdown'])
    rules.push({ name: `lang-${lang}`, match: { language: lang }, default: { top_p: 0.95 } });
  // JetBrains and Neovim plugins.
  rules.push({ name: 'intellij-old', match: { plugin: 'copilot-intellij <1.5.25' }, delete: ['n'] });
  rules.push({ name: 'vim', match: { plugin: 'copilot.vim' }, clamp: { temperature: { max: 0.5 } } });
  rules.push({ name: 'ua-old', match: { userAgent: 'GithubCopilot <1.150' }, logitBias: { '50256': -100 } });
  rules.push({ name: 'hdr', match: { headers: { 'x-team': 'ml-*' } }, routeTo: 'default-next' });
  rules.push({ name: 'sku', match: { sku: 'free_limited_copilot' }, clamp: { max_tokens: { max: 32 } } });
  // Too-old plugins are refused (none in the bench's mix, so nothing is rejected).
  rules.push({
    name: 'too-old',
    match: { plugin: 'copilot <1.0.0' },
    reject: { status: 426, message: 'Update GitHub Copilot to 1.0 or later.' },
  });
  const experiments = [
    {
      name: 'temperature',
      arms: [
        { name: 'control', weight: 1 },
        { name: 'cooler', weight: 1, params: { temperature: 0.05 } },
      ],
    },
    {
      name: 'next-model',
      match: { model: 'default' },
      arms: [
        { name: 'control', weight: 9 },
        { name: 'next', weight: 1, model: 'default-next' },
      ],
    },
    {
      name: 'one-deployment',
      arms: [
        { name: 'both', weight: 1 },
        { name: 'a-only', weight: 1, deployments: ['sim'] },
        { name: 'short', weight: 1, params: { max_tokens: 6 } },
      ],
    },
  ];
  if (rules.length !== 50) throw new Error(`policySection: ${rules.length} rules, expected 50`);
  return { rules, experiments };
}

/**
 * none and policy are the verdict; rules, experiments and idle (--variants) split the cost: each
 * feature alone, and both configured with nothing to do for this traffic (the machinery alone).
 */
/**
 * The same rules and experiments with every action made a no-op for this traffic (rules for a
 * plugin nobody sends, arms that change nothing): the cost of the machinery alone — matching,
 * assignment, the header — without the edits, which a request pays only when a rule fires.
 */
function idlePolicy(rules: unknown, experiments: unknown): Record<string, unknown> {
  const r = (rules as Record<string, unknown>[]).map((rule) => ({
    ...rule,
    match: { ...(rule.match as object), plugin: 'nobody-sends-this' },
  }));
  const e = (
    experiments as { name: string; match?: unknown; arms: { name: string; weight: number }[] }[]
  ).map((x) => ({ ...x, arms: x.arms.map((a) => ({ name: a.name, weight: a.weight })) }));
  return { rules: r, experiments: e };
}

export const VARIANTS = ['none', 'policy', 'rules', 'experiments', 'idle'] as const;
export type Variant = (typeof VARIANTS)[number];
const LABELS: Record<Variant, string> = {
  none: 'none',
  policy: '50 rules + 3 experiments',
  rules: '50 rules',
  experiments: '3 experiments',
  idle: '50 rules + 3 experiments that change nothing',
};

export function gatewayConfig(simUrl: string, variant: Variant): Record<string, unknown> {
  const base = baseConfig(simUrl);
  const { rules, experiments } = policySection();
  if (variant === 'none') return base;
  if (variant === 'rules') return { ...base, policy: { rules } };
  if (variant === 'experiments') return { ...base, policy: { experiments } };
  if (variant === 'idle') return { ...base, policy: idlePolicy(rules, experiments) };
  return { ...base, policy: { rules, experiments } };
}

export interface PolicyRun extends MeasuredLoad {
  round: number;
  variant: Variant;
  /** Tokens the simulator generated per request in the measured phase: the edits may change the answers. */
  tokensPerRequest: number;
}

/** Every way a run can be wrong; empty when sound. */
export function checkRun(run: PolicyRun, s: Pick<Settings, 'rate'>): string[] {
  const name = `round ${run.round} ${run.variant}`;
  const p: string[] = [];
  const errors = Object.entries(run.load.errors);
  if (errors.length > 0) p.push(`${name}: errors ${errors.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (run.load.ok !== run.load.sent) p.push(`${name}: ${run.load.ok} of ${run.load.sent} requests completed`);
  if (run.load.rps < 0.9 * s.rate)
    p.push(`${name}: ${run.load.rps.toFixed(0)} req/s, below 90% of ${s.rate}`);
  return p;
}

/** A variant's CPU over no policy's, per round (each round runs every variant back to back). */
export function roundRatios(runs: readonly PolicyRun[], variant: Variant = 'policy'): number[] {
  const out: number[] = [];
  for (const r of runs) {
    if (r.variant !== variant) continue;
    const none = runs.find((x) => x.round === r.round && x.variant === 'none');
    if (none !== undefined && none.cpuUsPerReq > 0) out.push(r.cpuUsPerReq / none.cpuUsPerReq);
  }
  return out;
}

const f0 = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—');
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '—');

export function renderMarkdown(
  s: Settings,
  runs: readonly PolicyRun[],
  tookS: number,
  problems: readonly string[],
): string {
  const cpu = os.cpus();
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const header = [
    'Round',
    'Policy',
    'Req/s',
    'Gateway CPU µs/req',
    'TTFB p50 / p99 ms',
    'Tokens/req',
    'Other CPU %',
  ];
  const rows = runs.map((r) =>
    line([
      String(r.round),
      LABELS[r.variant],
      f0(r.load.rps),
      f0(r.cpuUsPerReq),
      `${f2(r.load.ttfb.p50)} / ${f2(r.load.ttfb.p99)}`,
      f2(r.tokensPerRequest),
      `${f0(r.otherCpuPercent)}${r.otherCpuPercent > DISTURBED_OTHER_CPU_PERCENT ? ' (disturbed)' : ''}`,
    ]),
  );
  const perReq = (v: Variant): number =>
    median(runs.filter((r) => r.variant === v).map((r) => r.cpuUsPerReq));
  const present = VARIANTS.filter((v) => v !== 'none' && runs.some((r) => r.variant === v));
  const summary = present.map((v) => {
    const ratios = roundRatios(runs, v);
    const med = median(ratios);
    const head = `${LABELS[v]} over none: ${f2(med)}× (median of rounds; ${ratios.map((x) => `${f2(x)}×`).join(', ')}), ${f0(perReq(v) - perReq('none'))} µs/request`;
    if (v !== 'policy') return `- ${head}.`;
    const verdict = Number.isFinite(med) && med < MAX_POLICY_CPU_RATIO ? 'PASS' : 'FAIL';
    return `- **${head}. Target < ${MAX_POLICY_CPU_RATIO}×: ${verdict}.**`;
  });
  return [
    '## Policy cost',
    '',
    `Machine: node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}; took ${tookS} s. ` +
      (s.pin
        ? 'The gateway pinned alone to CPU 1; simulator and load client on CPU 0.'
        : 'Processes unpinned.'),
    '',
    `Method: one \`ghostwire simulate --ttft-ms 1 --token-ms 1 --max-tokens ${s.maxTokens}\`; per run a fresh \`ghostwire serve --config\` ` +
      `whose config differs only in \`policy\` (none, or 50 rewrite rules + 3 experiments: \`bench/policy.ts\` policySection — version ladders on ` +
      'Copilot plugins and VS Code, other models, languages, JetBrains/Neovim plugins, a User-Agent range, a header, a sku, a 426 for ancient plugins; ' +
      'experiments on temperature, a next model for 10%, and a deployment subset), token auth (8 verified users, one per load connection, as editors hold them, so experiments split them into arms as they would real users), ' +
      `\`bench/load.ts --editors\` at ${s.rate} req/s for ${s.durationS} s after ${s.warmupS} s of warm-up over ${s.connections} h2c connections: ` +
      'the 16 bench bodies from 8 editor/plugin versions in turn, old and new, so some rules fire on every request and most are looked at and skipped. ' +
      'Gateway CPU is user+system from `/proc/<pid>/stat` over the measured phase, per request. Rounds interleave the configs, in order on odd rounds and reversed on even ones (so neither always runs second).',
    '',
    line(header),
    line(header.map((_, i) => (i < 2 ? '---' : '---:'))),
    ...rows,
    '',
    'Gateway CPU per request:',
    '',
    ...summary,
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
      rounds: { type: 'string' },
      rate: { type: 'string' },
      'duration-s': { type: 'string' },
      'warmup-s': { type: 'string' },
      variants: { type: 'string' },
      quick: { type: 'boolean' },
      'no-pin': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      'usage: node dist/bench/policy.js [--quick] [--rounds N] [--rate RPS] [--duration-s S] [--warmup-s S]\n' +
        '         [--variants none,policy,rules,experiments] [--no-pin]\n',
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
  return {
    rounds: Math.round(num(values.rounds, quick ? 1 : DEFAULTS.rounds, 'rounds', 1)),
    variants: variantsFlag(values.variants),
    rate: num(values.rate, DEFAULTS.rate, 'rate', 1),
    durationS: num(values['duration-s'], quick ? 3 : DEFAULTS.durationS, 'duration-s', 1),
    warmupS: num(values['warmup-s'], quick ? 1 : DEFAULTS.warmupS, 'warmup-s', 0),
    connections: DEFAULTS.connections,
    maxTokens: DEFAULTS.maxTokens,
    pin: values['no-pin'] !== true && os.availableParallelism() >= 2,
  };
}

/** --variants a,b: none always runs (the baseline); the default is none,policy (the verdict). */
function variantsFlag(v: string | undefined): Variant[] {
  const asked = (v ?? 'none,policy').split(',').map((x) => x.trim());
  for (const a of asked)
    if (!(VARIANTS as readonly string[]).includes(a))
      throw new Error(`--variants: unknown "${a}" (${VARIANTS.join(', ')})`);
  return VARIANTS.filter((x) => x === 'none' || asked.includes(x));
}

/** A bench user's gateway token, from the token exchange (as an editor gets one). */
async function benchToken(url: string, key: string): Promise<string> {
  const session = http2.connect(url);
  try {
    const text = await new Promise<string>((resolvePromise, reject) => {
      const req = session.request({
        ':path': '/copilot_internal/v2/token',
        authorization: `token ${key}`,
      });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => resolvePromise(body));
      req.on('error', reject);
      req.setTimeout(5000, () => req.close(http2.constants.NGHTTP2_CANCEL));
    });
    const token = (JSON.parse(text) as { token?: unknown }).token;
    if (typeof token !== 'string') throw new Error(`token exchange failed: ${text.slice(0, 200)}`);
    return `Bearer ${token}`;
  } finally {
    session.close();
  }
}

async function measure(s: Settings, round: number, variant: Variant, sim: Service): Promise<PolicyRun> {
  const configFile = join(TMP, `policy-bench-${variant}.json`);
  writeFileSync(configFile, JSON.stringify(gatewayConfig(sim.url, variant), null, 2) + '\n');
  const gw = await startService(`gateway-${variant}`, [
    ...SERVE_NODE_FLAGS,
    BIN,
    'serve',
    '--config',
    configFile,
  ]);
  try {
    if (s.pin) pinToCpus(gw.pid, GATEWAY_CPU);
    const tokens = await Promise.all(USERS.map((u) => benchToken(gw.url, u.key)));
    const m = await measuredLoad({
      args: [
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
        ...tokens.flatMap((t) => ['--authorization', t]),
        '--editors',
      ],
      pids: [gw.pid],
      ours: [gw.pid, sim.pid],
      timeoutMs: (s.warmupS + s.durationS) * 1000 + 40_000,
      pinTo: s.pin ? LOAD_CPU : undefined,
      beforeMeasure: () => simRequest('POST', `${sim.url}/stats/reset`).then(() => undefined),
      tail: () => gw.tail(),
    });
    const stats = await simStats(sim.url);
    return { round, variant, ...m, tokensPerRequest: stats.tokens_generated / Math.max(1, stats.requests) };
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
      `[policy ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`,
    );
  const boundMs = s.rounds * s.variants.length * (s.warmupS + s.durationS + 50) * 1000 + 30_000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`policy: FAILED: still running after ${boundMs / 1000} s\n`);
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
    if (s.pin && !(pinToCpus(sim.pid, LOAD_CPU) && pinToCpus(process.pid, LOAD_CPU))) {
      s.pin = false;
      log('taskset unavailable: running unpinned');
    }
    const runs: PolicyRun[] = [];
    for (let round = 1; round <= s.rounds; round++)
      // ABBA: odd rounds in order, even rounds reversed, so no config always runs second.
      for (const variant of round % 2 === 1 ? s.variants : [...s.variants].reverse()) {
        const run = await measure(s, round, variant, sim);
        runs.push(run);
        log(
          `round ${round} ${variant.padEnd(6)}: ${run.load.rps.toFixed(0)} req/s, gateway ${run.cpuUsPerReq.toFixed(0)} µs/req, ` +
            `ttfb p50 ${f2(run.load.ttfb.p50)} p99 ${f2(run.load.ttfb.p99)} ms, ${run.tokensPerRequest.toFixed(2)} tokens/req, other CPU ${run.otherCpuPercent.toFixed(0)}%`,
        );
      }
    const problems = runs.flatMap((r) => checkRun(r, s));
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
    process.stderr.write(`policy: FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
