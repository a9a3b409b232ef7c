// Pins down experiment assignment (issue 7, item 2): weighted arms, each user sticky to one arm
// per experiment (a hash of the user id and the experiment name: the same on every instance and
// after every reload), experiments independent of each other, and what an arm changes.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import { bucketOf, Experiments, unitHashOf } from '../../src/policy/experiments.js';
import { Registry } from '../../src/routing/registry.js';

const USERS = 100_000;
const uid = (i: number): string => `user-${i}@example.com`;

const registries: Registry[] = [];
after(() => registries.forEach((r) => r.destroy()));

/** Real registry and experiments from a validated config (no sockets: pools connect on first use). */
function build(experiments: unknown[]): { registry: Registry; exps: Experiments } {
  const cfg = validateConfig({
    auth: { mode: 'none' },
    deployments: [
      { name: 'a1', url: 'h2c://127.0.0.1:9' },
      { name: 'a2', url: 'h2c://127.0.0.1:9' },
      { name: 'b1', url: 'h2c://127.0.0.1:9' },
    ],
    models: [
      { name: 'code', aliases: ['copilot-codex'], deployments: ['a1', 'a2'] },
      { name: 'code-v2', upstreamModel: 'qwen-next', deployments: ['b1'] },
    ],
    policy: { experiments } as GatewayConfigInput['policy'],
  });
  const registry = new Registry(cfg);
  registries.push(registry);
  return { registry, exps: new Experiments(cfg.policy.experiments, registry) };
}

/** Counts users per arm name of experiment `name` (requests to model `code` over copilot). */
function distribution(exps: Experiments, registry: Registry, users = USERS): Map<string, number> {
  const code = registry.resolve('code');
  const counts = new Map<string, number>();
  for (let i = 0; i < users; i++) {
    const arm = exps.assign(uid(i), code, 'copilot')?.arms[0]?.arm ?? 'none';
    counts.set(arm, (counts.get(arm) ?? 0) + 1);
  }
  return counts;
}

describe('experiments: weights', () => {
  it('100k users fall into arms 1:2:7 within ±1% absolute of 10/20/70%', () => {
    const { registry, exps } = build([
      {
        name: 'ranker',
        arms: [
          { name: 'a', weight: 1 },
          { name: 'b', weight: 2 },
          { name: 'c', weight: 7 },
        ],
      },
    ]);
    const counts = distribution(exps, registry);
    for (const [arm, want] of [
      ['a', 0.1],
      ['b', 0.2],
      ['c', 0.7],
    ] as const) {
      const share = (counts.get(arm) ?? 0) / USERS;
      assert.ok(
        Math.abs(share - want) < 0.01,
        `arm ${arm}: ${(share * 100).toFixed(2)}% (want ${want * 100}%)`,
      );
    }
    assert.equal(counts.get('none'), undefined, 'every user is in an arm');
  });

  it('a 1% arm gets 1% (±0.2%), and fractional weights work', () => {
    const { registry, exps } = build([
      {
        name: 'canary',
        arms: [
          { name: 'canary', weight: 0.5 },
          { name: 'stable', weight: 49.5 },
        ],
      },
    ]);
    const share = (distribution(exps, registry).get('canary') ?? 0) / USERS;
    assert.ok(Math.abs(share - 0.01) < 0.002, `${(share * 100).toFixed(3)}%`);
  });

  it('two experiments are independent: each of the four arm pairs holds 25% ±1%', () => {
    const { registry, exps } = build([
      {
        name: 'e1',
        arms: [
          { name: 'x', weight: 1 },
          { name: 'y', weight: 1 },
        ],
      },
      {
        name: 'e2',
        arms: [
          { name: 'x', weight: 1 },
          { name: 'y', weight: 1 },
        ],
      },
    ]);
    const code = registry.resolve('code');
    const cells = new Map<string, number>();
    for (let i = 0; i < USERS; i++) {
      const header = exps.assign(uid(i), code, 'copilot')?.header ?? '';
      cells.set(header, (cells.get(header) ?? 0) + 1);
    }
    assert.equal(cells.size, 4, [...cells.keys()].join(' | '));
    for (const [pair, n] of cells) assert.ok(Math.abs(n / USERS - 0.25) < 0.01, `${pair}: ${n}`);
  });
});

describe('experiments: stickiness', () => {
  const config = [
    {
      name: 'ranker',
      arms: [
        { name: 'a', weight: 1 },
        { name: 'b', weight: 1 },
        { name: 'c', weight: 1 },
      ],
    },
  ];

  it('a user keeps their arm on every call, on another instance, and after a reload', () => {
    const one = build(config);
    const two = build(config); // another gateway instance, or the Policy a reload builds
    const code1 = one.registry.resolve('code');
    const code2 = two.registry.resolve('code');
    for (let i = 0; i < 5000; i++) {
      const first = one.exps.assign(uid(i), code1, 'copilot')?.header;
      assert.equal(one.exps.assign(uid(i), code1, 'copilot')?.header, first);
      assert.equal(two.exps.assign(uid(i), code2, 'openai')?.header, first);
    }
  });

  it('the bucket is FNV-1a of "uid\\0experiment", finalised; pinned so an upgrade never reshuffles users', () => {
    // A reference implementation over the concatenated string, written out here on purpose.
    const reference = (s: string): number => {
      let h = 0x811c9dc5;
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      return (h >>> 0) / 2 ** 32;
    };
    for (const [user, exp] of [
      ['alice@example.com', 'ranker'],
      ['u', 'e'],
      ['12345', 'a-much-longer-experiment-name.v2'],
    ] as const)
      assert.equal(bucketOf(unitHashOf(user), exp), reference(`${user}\0${exp}`), `${user} / ${exp}`);
    // Changing the hash moves every user to a new arm: that needs a migration, not a refactor.
    assert.equal(bucketOf(unitHashOf('alice@example.com'), 'ranker'), 0.3475023382343352);
  });

  it('moving weight from one arm to another moves only users between those two arms, and no more than the weight moved', () => {
    const before = build([
      {
        name: 'w',
        arms: [
          { name: 'a', weight: 50 },
          { name: 'b', weight: 50 },
        ],
      },
    ]);
    const later = build([
      {
        name: 'w',
        arms: [
          { name: 'a', weight: 40 },
          { name: 'b', weight: 60 },
        ],
      },
    ]);
    const c1 = before.registry.resolve('code');
    const c2 = later.registry.resolve('code');
    let moved = 0;
    for (let i = 0; i < USERS; i++) {
      const a = before.exps.assign(uid(i), c1, 'copilot')?.arms[0]?.arm;
      const b = later.exps.assign(uid(i), c2, 'copilot')?.arms[0]?.arm;
      if (a === b) continue;
      assert.equal(a, 'a', 'only users of the arm that lost weight move');
      moved++;
    }
    assert.ok(Math.abs(moved / USERS - 0.1) < 0.01, `${moved} moved`);
  });

  it('a request without a user (and no session) is in no experiment; a disabled experiment enrolls nobody', () => {
    const { registry, exps } = build(config);
    assert.equal(exps.assign(undefined, registry.resolve('code'), 'copilot'), undefined);
    assert.equal(exps.assign('', registry.resolve('code'), 'copilot'), undefined);
    const off = build([{ ...config[0], enabled: false }]);
    assert.equal(off.exps.enabled, false);
    assert.equal(off.exps.assign('u', off.registry.resolve('code'), 'copilot'), undefined);
  });
});

describe('experiments: matching and what an arm changes', () => {
  it('matches by the resolved model (aliases too) and the client protocol', () => {
    const { registry, exps } = build([
      {
        name: 'm',
        match: { model: ['copilot-codex'], protocol: ['copilot'] },
        arms: [{ name: 'x', weight: 1 }],
      },
    ]);
    assert.equal(exps.assign('u', registry.resolve('code'), 'copilot')?.header, 'm=x');
    assert.equal(exps.assign('u', registry.resolve('copilot-codex'), 'copilot')?.header, 'm=x');
    assert.equal(exps.assign('u', registry.resolve('code'), 'openai'), undefined);
    assert.equal(exps.assign('u', registry.resolve('code-v2'), 'copilot'), undefined);
  });

  it('an arm naming deployments but no model, in an experiment on any model, restricts the models they serve and leaves the rest', () => {
    const { registry, exps } = build([
      { name: 'pin', arms: [{ name: 'a2-only', weight: 1, deployments: ['a2'] }] },
    ]);
    const code = registry.resolve('code');
    const v2 = registry.resolve('code-v2');
    const e = exps.assign('u', code, 'copilot');
    assert.ok(e !== undefined);
    assert.deepEqual(
      e.route(code).targets.map((t) => t.deployment.name),
      ['a2'],
    );
    // code-v2 is served by b1 alone: the arm cannot restrict it to a2, so it passes unchanged.
    assert.equal(exps.assign('u', v2, 'copilot')?.route(v2), v2);
  });

  it('an arm routes to its model, to a subset of deployments, and sets parameters', () => {
    const { registry, exps } = build([
      {
        name: 'e',
        match: { model: ['code'] },
        arms: [
          { name: 'v2', weight: 1, model: 'code-v2', params: { max_tokens: 7, stop: '\n' } },
          { name: 'only-a2', weight: 1, deployments: ['a2'], params: { temperature: 0.1 } },
        ],
      },
    ]);
    const code = registry.resolve('code');
    const seen = new Map<string, { model: string; deployments: string[]; params: unknown }>();
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      const e = exps.assign(uid(i), code, 'copilot');
      assert.ok(e !== undefined);
      const m = e.route(code);
      seen.set(e.arms[0]?.arm ?? '', {
        model: m.name,
        deployments: m.targets.map((t) => t.deployment.name),
        params: e.params,
      });
      if (e.arms[0]?.arm === 'only-a2') {
        assert.equal(m.tiers.flat().length, 1, 'the routing tiers hold the subset only');
        assert.equal(m.targets[0], code.targets[1], 'the same Target objects: same deployment state');
      }
    }
    assert.deepEqual(seen.get('v2'), {
      model: 'code-v2',
      deployments: ['b1'],
      params: { maxTokens: 7, stop: ['\n'] },
    });
    assert.deepEqual(seen.get('only-a2'), {
      model: 'code',
      deployments: ['a2'],
      params: { temperature: 0.1 },
    });
  });

  it('experiments apply in order: a later one sees the model an earlier arm chose; later parameters win', () => {
    const { registry, exps } = build([
      {
        name: 'first',
        arms: [{ name: 'v2', weight: 1, model: 'code-v2', params: { max_tokens: 5, top_p: 0.5 } }],
      },
      { name: 'on-code', match: { model: ['code'] }, arms: [{ name: 'x', weight: 1 }] },
      {
        name: 'on-v2',
        match: { model: ['code-v2'] },
        arms: [{ name: 'y', weight: 1, params: { max_tokens: 9 } }],
      },
    ]);
    const e = exps.assign('u', registry.resolve('code'), 'copilot');
    assert.equal(e?.header, 'first=v2, on-v2=y');
    assert.deepEqual(e?.arms, [
      { experiment: 'first', arm: 'v2' },
      { experiment: 'on-v2', arm: 'y' },
    ]);
    assert.deepEqual(e?.params, { maxTokens: 9, topP: 0.5 });
    assert.equal(e?.route(registry.resolve('code')).name, 'code-v2');
  });

  it('one enrollment object per combination of arms: nothing is built per request', () => {
    const { registry, exps } = build([
      {
        name: 'e1',
        arms: [
          { name: 'x', weight: 1 },
          { name: 'y', weight: 1 },
        ],
      },
      {
        name: 'e2',
        arms: [
          { name: 'x', weight: 1 },
          { name: 'y', weight: 1 },
        ],
      },
    ]);
    const code = registry.resolve('code');
    const distinct = new Set<unknown>();
    for (let i = 0; i < 1000; i++) distinct.add(exps.assign(uid(i), code, 'copilot'));
    assert.equal(distinct.size, 4);
  });
});
