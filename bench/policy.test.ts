// The policy cost benchmark's configs and arithmetic (bench/policy.ts), without starting processes:
// every variant is a config the gateway accepts, the policy has the 50 rules and 3 experiments the
// issue names, the idle variant fires nothing for the bench's traffic, and the table and verdict.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../src/config/load.js';
import { Policy } from '../src/policy/index.js';
import { copilotProtocol } from '../src/protocol/client/copilot.js';
import { Registry } from '../src/routing/registry.js';
import type { LoadResult } from './load.js';
import {
  DEFAULTS,
  gatewayConfig,
  policySection,
  renderMarkdown,
  VARIANTS,
  type PolicyRun,
} from './policy.js';
import { EDITORS, requestBodies } from './workload.js';

void test('every variant validates; the policy has 50 rules and 3 experiments', () => {
  for (const v of VARIANTS) validateConfig(gatewayConfig('http://127.0.0.1:9', v), v);
  const { rules, experiments } = policySection();
  assert.equal((rules as unknown[]).length, 50);
  assert.equal((experiments as unknown[]).length, 3);
});

void test("the bench traffic: rules rewrite some editors' requests in the policy variant, none in the idle one", async () => {
  const fired = async (variant: 'policy' | 'idle'): Promise<number> => {
    const cfg = validateConfig(gatewayConfig('http://127.0.0.1:9', variant), variant);
    const registry = await Registry.create(cfg, undefined);
    const policy = new Policy(cfg.policy, undefined, registry);
    let n = 0;
    const body = requestBodies(8)[0] as Buffer;
    for (const headers of EDITORS) {
      const req = copilotProtocol.decode({
        body: JSON.parse(body.toString()) as Record<string, unknown>,
        raw: body,
        engine: 'default',
        client: {
          editor: headers['editor-version'],
          plugin: headers['editor-plugin-version'],
          session: undefined,
        },
      });
      const out = policy.rules?.apply(
        req,
        'copilot',
        { path: '/v1/engines/default/completions', header: (h) => headers[h] },
        {
          uid: 'dev-1',
          sku: 'copilot_enterprise_seat',
          org: 'acme',
        },
      );
      // Rewritten: a rule changed something (a matching rule may leave the request as it was).
      if (out !== undefined && out.req !== req) n++;
    }
    await Promise.all([policy.close(), registry.close()]);
    return n;
  };
  const some = await fired('policy');
  assert.ok(
    some > 0 && some < EDITORS.length,
    `rules rewrite requests of ${some} of ${EDITORS.length} editors`,
  );
  assert.equal(await fired('idle'), 0);
});

void test('the table and the verdict: the policy row over none, round by round', () => {
  const load = (rps: number): LoadResult =>
    ({ rps, sent: 100, ok: 100, errors: {}, ttfb: { p50: 1, p99: 2 } }) as unknown as LoadResult;
  const run = (round: number, variant: PolicyRun['variant'], us: number): PolicyRun => ({
    round,
    variant,
    load: load(1500),
    cpuUsPerReq: us,
    allCpuUsPerReq: us * 2,
    otherCpuPercent: 0,
    tokensPerRequest: 8,
  });
  const s = { ...DEFAULTS, variants: ['none', 'policy'] as PolicyRun['variant'][], pin: false };
  const pass = renderMarkdown(
    s,
    [run(1, 'none', 100), run(1, 'policy', 105), run(2, 'policy', 107), run(2, 'none', 100)],
    9,
    [],
  );
  assert.match(pass, /50 rules \+ 3 experiments over none: 1\.06× .*Target < 1\.1×: PASS/);
  const fail = renderMarkdown(s, [run(1, 'none', 100), run(1, 'policy', 130)], 9, []);
  assert.match(fail, /1\.30× .*FAIL/);
});
