// Micro-benchmark of what rewrite rules (policy.rules) cost per request: the step in
// src/proxy/completion.ts between the protocol's decode and the model's resolve, on a decoded
// Copilot request, no sockets. Cases: no rules (the property check), 50 rules indexed away by
// model, 50 rules every request must evaluate (a plugin range each; none matches), and the same
// 50 where one fires and clamps max_tokens (a rewrite: a new body and its bytes).
//
//   npx tsc -p . && node dist/bench/rules.js [--iterations 200000] [--runs 5]
import { parseArgs } from 'node:util';
import { Policy } from '../src/policy/index.js';
import { PolicyConfig } from '../src/policy/schema.js';
import { copilotProtocol } from '../src/protocol/client/copilot.js';
import type { CompletionRequest } from '../src/protocol/model.js';
import { median } from './stats.js';

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

const CASES: { name: string; rules: unknown[]; maxTokens: number; fires: boolean }[] = [
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
];

/** Nanoseconds per request for one case, the median of RUNS runs. */
function measure(c: (typeof CASES)[number]): number {
  const policy = new Policy(PolicyConfig.parse({ rules: c.rules }));
  const reqs = Array.from({ length: 64 }, () => request(c.maxTokens));
  let sink = 0;
  const runs: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) {
      // As completion.ts does it.
      const out = policy.rules?.apply(reqs[i & 63] as CompletionRequest, 'copilot', http, undefined);
      if (out !== undefined) sink += out.req.maxTokens ?? 0;
    }
    const ns = Number(process.hrtime.bigint() - t0) / ITERATIONS;
    if (r > 0) runs.push(ns); // the first run warms up
  }
  const fired = policy.rules?.apply(request(c.maxTokens), 'copilot', http, undefined);
  if ((fired !== undefined) !== c.fires) throw new Error(`${c.name}: expected fires=${c.fires}`);
  if (c.fires && fired?.req.maxTokens !== 64) throw new Error(`${c.name}: the clamp did not apply`);
  if (sink < 0) throw new Error('unreachable');
  return median(runs);
}

console.log(`| Rewrite rules (${ITERATIONS} requests × ${RUNS} runs) | µs/request |`);
console.log('|---|---:|');
for (const c of CASES) console.log(`| ${c.name} | ${(measure(c) / 1000).toFixed(3)} |`);
