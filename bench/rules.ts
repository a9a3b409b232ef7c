// Micro-benchmark of what rewrite rules (policy.rules) cost per request: the step in
// src/proxy/completion.ts between the protocol's decode and the model's resolve, on a decoded
// Copilot request, no sockets. Cases: no rules (the property check), 50 rules indexed away by
// model, 50 rules every request must evaluate (a plugin range each; none matches), and the same
// 50 where one fires and clamps max_tokens (a rewrite: a new body and its bytes); and the 50 rules
// of the end-to-end policy benchmark (bench/policy.ts) over its workload: the 16 bench bodies
// (2.4-4.4 KB) × 8 editors and plugins, old and new, so some rules rewrite most requests.
//
//   npx tsc -p . && node dist/bench/rules.js [--iterations 200000] [--runs 5]
import { parseArgs } from 'node:util';
import { RuleSet } from '../src/policy/index.js';
import { PolicyConfig } from '../src/policy/schema.js';
import { copilotProtocol } from '../src/protocol/client/copilot.js';
import type { CompletionRequest } from '../src/protocol/model.js';
import { policySection } from './policy.js';
import { median } from './stats.js';
import { EDITORS, requestBodies } from './workload.js';

const { values: args } = parseArgs({
  options: { iterations: { type: 'string', default: '200000' }, runs: { type: 'string', default: '5' } },
});
const ITERATIONS = Number(args.iterations);
const RUNS = Number(args.runs);

const HEADERS: Record<string, string> = {
  'editor-version': 'vscode/1.95.0',
  'editor-plugin-version': 'copilot/1.250.0',
  'user-agent': 'GithubCopilot/1.250.0',
};
const http = { path: '/v1/engines/copilot-codex/completions', header: (n: string) => HEADERS[n] };

function request(maxTokens: number): CompletionRequest {
  const body = {
    prompt: 'function add(a, b) {\n  return a',
    suffix: '\n}\n',
    max_tokens: maxTokens,
    temperature: 0,
    n: 1,
    stop: ['\n\n'],
    stream: true,
    extra: { language: 'javascript' },
  };
  return copilotProtocol.decode({
    body,
    raw: Buffer.from(JSON.stringify(body)),
    engine: 'copilot-codex',
    client: {
      editor: HEADERS['editor-version'],
      plugin: HEADERS['editor-plugin-version'],
      session: undefined,
    },
  });
}

const fifty = (rule: (i: number) => Record<string, unknown>): unknown[] =>
  Array.from({ length: 50 }, (_, i) => ({ name: `r${i}`, ...rule(i) }));

/** A sample request: decoded once (decode is not what is measured), with its headers. */
interface Sample {
  readonly req: CompletionRequest;
  readonly http: { path: string; header(n: string): string | undefined };
}

/** The end-to-end benchmark's requests: every body from every editor (8 × 16). */
function workloadSamples(): Sample[] {
  const out: Sample[] = [];
  for (const headers of EDITORS)
    for (const raw of requestBodies(8)) {
      const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      const req = copilotProtocol.decode({
        body,
        raw,
        engine: 'default',
        client: {
          editor: headers['editor-version'],
          plugin: headers['editor-plugin-version'],
          session: undefined,
        },
      });
      out.push({ req, http: { path: '/v1/engines/default/completions', header: (n) => headers[n] } });
    }
  return out;
}

const SIMPLE: Sample[] = Array.from({ length: 64 }, () => ({ req: request(500), http }));

const CASES: { name: string; rules: unknown[]; samples?: Sample[]; maxTokens: number; fires: boolean }[] = [
  { name: '0 rules', rules: [], maxTokens: 500, fires: false },
  {
    name: '50 rules, other models (indexed away)',
    rules: fifty((i) => ({ match: { model: `model-${i}` }, set: { max_tokens: 64 } })),
    maxTokens: 500,
    fires: false,
  },
  {
    name: '50 rules, each evaluated, none matches',
    rules: fifty((i) => ({ match: { plugin: `copilot <1.${i}.0` }, clamp: { max_tokens: { max: 64 } } })),
    maxTokens: 500,
    fires: false,
  },
  {
    name: '50 rules, each evaluated, the last clamps',
    rules: [
      ...fifty((i) => ({ match: { plugin: `copilot <1.${i}.0` }, clamp: { max_tokens: { max: 64 } } })).slice(
        1,
      ),
      { name: 'cap', match: { plugin: 'copilot <2.0.0' }, clamp: { max_tokens: { max: 64 } } },
    ],
    maxTokens: 500,
    fires: true,
  },
  {
    name: 'bench/policy.ts 50 rules, its 16 bodies × 8 editors',
    rules: policySection().rules as unknown[],
    samples: workloadSamples(),
    maxTokens: 8,
    fires: true,
  },
];

/** Nanoseconds per request for one case, the median of RUNS runs. */
function measure(c: (typeof CASES)[number]): number {
  const parsed = PolicyConfig.parse({ rules: c.rules }).rules;
  // What Policy builds for `policy.rules` (undefined when there are none).
  const policy = { rules: parsed.length === 0 ? undefined : new RuleSet(parsed) };
  const samples = c.samples ?? SIMPLE;
  const identity = { uid: 'bench', sku: 'copilot_enterprise_seat', org: 'acme' };
  let sink = 0;
  const runs: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) {
      const s = samples[i % samples.length] as Sample;
      // As completion.ts does it.
      const out = policy.rules?.apply(s.req, 'copilot', s.http, identity);
      if (out !== undefined) sink += out.req.maxTokens ?? 0;
    }
    const ns = Number(process.hrtime.bigint() - t0) / ITERATIONS;
    if (r > 0) runs.push(ns); // the first run warms up
  }
  const first = samples[0] as Sample;
  const fired = policy.rules?.apply(first.req, 'copilot', first.http, identity);
  if ((fired !== undefined) !== c.fires) throw new Error(`${c.name}: expected fires=${c.fires}`);
  if (c.samples === undefined && c.fires && fired?.req.maxTokens !== 64)
    throw new Error(`${c.name}: the clamp did not apply`);
  if (sink < 0) throw new Error('unreachable');
  return median(runs);
}

console.log(`| Rewrite rules (${ITERATIONS} requests × ${RUNS} runs) | µs/request |`);
console.log('|---|---:|');
for (const c of CASES) console.log(`| ${c.name} | ${(measure(c) / 1000).toFixed(3)} |`);
