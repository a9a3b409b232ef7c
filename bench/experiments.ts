// Micro-benchmark of the experiments stage, which runs on every completion when
// policy.experiments is set: Experiments.assign() (one hash of the user id, then per experiment
// a hash of its name, a match and a walk of the weights; the enrollment from a cache) and
// Enrollment.apply() (context, response header, model view, and for arms with params the
// request edit, which re-serialises an OpenAI-shaped body). No sockets. Prints a markdown table;
// checks its own results.
//
//   npx tsc -p . && node dist/bench/experiments.js [--iterations 200000] [--runs 5]
import { parseArgs } from 'node:util';
import { validateConfig } from '../src/config/load.js';
import { Experiments } from '../src/policy/experiments.js';
import { copilotProtocol } from '../src/protocol/client/copilot.js';
import type { CompletionRequest } from '../src/protocol/model.js';
import { RequestContext } from '../src/proxy/context.js';
import { Registry } from '../src/routing/registry.js';
import { median } from './stats.js';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '5' },
  },
});
const ITERATIONS = Number(args.iterations);
const RUNS = Number(args.runs);
const USERS = 10_000;

interface Case {
  name: string;
  experiments: unknown[];
}

const three = (withParams: boolean): unknown[] => [
  {
    name: 'model-rollout',
    match: { model: ['code'] },
    arms: [
      { name: 'control', weight: 8 },
      { name: 'v2', weight: 2, model: 'code-v2' },
    ],
  },
  {
    name: 'pinning',
    match: { model: ['code'] },
    arms: [
      { name: 'any', weight: 1 },
      { name: 'a2', weight: 1, deployments: ['a2'] },
    ],
  },
  {
    name: 'sampling',
    match: { protocol: ['copilot'] },
    arms: [
      { name: 'default', weight: 1 },
      withParams
        ? { name: 'cool', weight: 1, params: { temperature: 0.1, max_tokens: 64 } }
        : { name: 'same', weight: 1 },
    ],
  },
];

const CASES: Case[] = [
  { name: 'no experiments', experiments: [] },
  { name: '3 experiments (model, deployments, no params)', experiments: three(false) },
  { name: '3 experiments (model, deployments, params on half the users)', experiments: three(true) },
];

function build(c: Case): { registry: Registry; exps: Experiments } {
  const cfg = validateConfig({
    auth: { mode: 'none' },
    deployments: ['a1', 'a2', 'b1'].map((name, i) => ({ name, url: `h2c://127.0.0.1:${10_000 + i}` })),
    models: [
      { name: 'code', deployments: ['a1', 'a2'] },
      { name: 'code-v2', deployments: ['b1'] },
    ],
    policy: { experiments: c.experiments } as never,
  });
  const registry = new Registry(cfg);
  return { registry, exps: new Experiments(cfg.policy.experiments, registry) };
}

/** A Copilot request as editors send it (a ~2 KB prompt). */
function request(): CompletionRequest {
  const body = {
    prompt: `// file: src/app.ts\n${'const value = compute(input);\n'.repeat(60)}function f(`,
    suffix: '\n}\n',
    max_tokens: 500,
    temperature: 0,
    top_p: 1,
    n: 1,
    stop: ['\n\n'],
    stream: true,
    extra: { language: 'typescript' },
  };
  const raw = Buffer.from(JSON.stringify(body));
  return copilotProtocol.decode({
    body: JSON.parse(raw.toString()) as Record<string, unknown>,
    raw,
    engine: 'code',
    client: { editor: undefined, plugin: undefined, session: undefined },
  });
}

const client = {
  headers: 0,
  addResponseHeader(): void {
    this.headers++;
  },
};

function run(c: Case): number {
  const { registry, exps } = build(c);
  const code = registry.resolve('code');
  const req = request();
  const uids = Array.from({ length: USERS }, (_, i) => `user-${i}@example.com`);
  const perRun: number[] = [];
  let enrolled = 0;
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) {
      const ctx = new RequestContext('h2', undefined);
      const e = exps.assign(uids[i % USERS], code, 'copilot');
      if (e !== undefined) {
        const out = e.apply(client, ctx, req, code);
        if (out.model.targets.length === 0) throw new Error('no targets');
        enrolled++;
      }
    }
    perRun.push(Number(process.hrtime.bigint() - start) / 1000 / ITERATIONS);
  }
  registry.destroy();
  if (c.experiments.length > 0 && enrolled !== RUNS * ITERATIONS)
    throw new Error(`${c.name}: ${enrolled} enrolled`);
  return median(perRun);
}

const rows = CASES.map((c) => ({ name: c.name, us: run(c) }));
const base = rows[0]?.us ?? 0;
console.log('| experiments | µs per request (median of runs) | added by experiments |');
console.log('|---|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${r.us.toFixed(3)} | ${(r.us - base).toFixed(3)} |`);
