// Pins down how policy.experiments and policy.mirrors are checked at load: every problem
// reported with its path and a message an operator can act on, cross-references included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateConfig } from '../../src/config/load.js';

const base = {
  auth: { mode: 'none' },
  deployments: [
    { name: 'a1', url: 'h2c://127.0.0.1:9' },
    { name: 'a2', url: 'h2c://127.0.0.1:9' },
    { name: 'b1', url: 'h2c://127.0.0.1:9' },
    { name: 'shadow', url: 'h2c://127.0.0.1:9' },
  ],
  models: [
    { name: 'code', aliases: ['copilot-codex'], deployments: ['a1', 'a2'] },
    { name: 'code-v2', deployments: ['b1'] },
  ],
};

function problems(policy: unknown): string[] {
  try {
    validateConfig({ ...base, policy });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected a ConfigError');
}

const arm = (name: string, extra: Record<string, unknown> = {}) => ({ name, weight: 1, ...extra });

describe('policy config: experiments', () => {
  it('a valid config loads, with defaults', () => {
    const cfg = validateConfig({
      ...base,
      policy: {
        experiments: [
          {
            name: 'rollout',
            match: { model: ['copilot-codex'] },
            arms: [
              arm('control'),
              arm('v2', { model: 'code-v2', params: { max_tokens: 64, stop: ['\n\n'] } }),
            ],
          },
          {
            name: 'pin',
            match: { model: 'code', protocol: 'copilot' },
            arms: [arm('a2', { deployments: ['a2'] })],
          },
        ],
        mirrors: [{ deployment: 'shadow', sample: 0.1 }],
      },
    });
    assert.equal(cfg.policy.experiments[0]?.enabled, true);
    // One name or a list: always a list once parsed.
    assert.deepEqual(cfg.policy.experiments[1]?.match, { model: ['code'], protocol: ['copilot'] });
    assert.equal(cfg.policy.mirrors[0]?.maxInFlight, 64);
    assert.deepEqual(validateConfig(base).policy.experiments, []);
    assert.deepEqual(validateConfig(base).policy.mirrors, []);
  });

  it('names, weights and parameters are checked where they are written', () => {
    const p = problems({
      experiments: [
        { name: 'dup', arms: [arm('x'), arm('x')] },
        { name: 'dup', arms: [{ name: 'a', weight: 0 }] },
        { name: 'bad,name', arms: [arm('a=b')] },
        { name: 'params', arms: [arm('p', { params: { temperature: 3, top_p: -1, logit_bias: {} } })] },
        { name: 'empty', arms: [] },
      ],
    });
    const want = [
      'policy.experiments[0].arms[1].name: duplicate arm name "x"',
      'policy.experiments[1].name: duplicate experiment name "dup"',
      'policy.experiments[1].arms[0].weight: ',
      'policy.experiments[2].name: expected 1-64 letters, digits, ., - or _',
      'policy.experiments[2].arms[0].name: expected 1-64 letters',
      'policy.experiments[3].arms[0].params.temperature: ',
      'policy.experiments[3].arms[0].params.top_p: ',
      'policy.experiments[3].arms[0].params: unknown key(s) "logit_bias"',
      'policy.experiments[4].arms: ',
    ];
    for (const w of want)
      assert.ok(
        p.some((x) => x.startsWith(w)),
        `missing "${w}" in:\n${p.join('\n')}`,
      );
  });

  it("models and deployments must exist, and an arm's deployments must serve the model it routes to", () => {
    const p = problems({
      experiments: [
        {
          name: 'refs',
          match: { model: ['nope'] },
          arms: [
            arm('m', { model: 'missing' }),
            arm('d', { model: 'code-v2', deployments: ['a1', 'ghost'] }),
            arm('wild', { model: '*' }),
          ],
        },
        {
          name: 'matched',
          match: { model: ['code', 'code-v2'] },
          arms: [arm('sub', { deployments: ['a1'] })],
        },
        { name: 'unanchored', arms: [arm('sub', { deployments: ['a1', 'b1'] })] },
        // No model named or matched: it restricts every model a1 serves (code), which is fine.
        { name: 'any-model', arms: [arm('sub', { deployments: ['a1'] })] },
      ],
    });
    const want = [
      'policy.experiments[0].match.model: unknown model "nope" (known: code, copilot-codex, code-v2)',
      'policy.experiments[0].arms[0].model: unknown model "missing"',
      'policy.experiments[0].arms[1].deployments[0]: deployment "a1" does not serve model "code-v2", where this arm\'s requests go',
      'policy.experiments[0].arms[1].deployments[1]: unknown deployment "ghost"',
      'policy.experiments[0].arms[2].model: unknown model "*"',
      'policy.experiments[1].arms[0].deployments[0]: deployment "a1" does not serve model "code-v2"',
      'policy.experiments[2].arms[0].deployments: no model is served by all of a1, b1: the arm would change nothing',
    ];
    for (const w of want)
      assert.ok(
        p.some((x) => x.startsWith(w)),
        `missing "${w}" in:\n${p.join('\n')}`,
      );
    assert.equal(p.length, want.length, p.join('\n'));
  });
});

describe('policy config: the experiment metric label', () => {
  // Pins down the label's bound: request metrics are multiplied by its values, so the config
  // (not the traffic) decides how many there can be.
  const exp = (name: string, arms: number, extra: Record<string, unknown> = {}) => ({
    name,
    arms: Array.from({ length: arms }, (_, i) => arm(`a${i}`)),
    ...extra,
  });

  it('at most 64 values: the product of (arms + 1) over labelled experiments', () => {
    // 3 × 3 × 7 = 63 values: fine.
    validateConfig({ ...base, policy: { experiments: [exp('x', 2), exp('y', 2), exp('z', 6)] } });
    const p = problems({ experiments: [exp('x', 2), exp('y', 2), exp('z', 7)] });
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(
      p[0] ?? '',
      /^policy\.experiments: the experiment metric label would take up to 72 values .* set metricLabel: false/,
    );
    // Unlabelled and disabled experiments do not count.
    validateConfig({
      ...base,
      policy: {
        experiments: [
          exp('x', 2),
          exp('y', 2),
          exp('z', 7, { metricLabel: false }),
          exp('w', 60, { enabled: false }),
        ],
      },
    });
  });

  it('the label names only labelled experiments; the header names them all', async () => {
    const { Experiments } = await import('../../src/policy/experiments.js');
    const { Registry } = await import('../../src/routing/registry.js');
    const cfg = validateConfig({
      ...base,
      policy: { experiments: [exp('x', 1), exp('y', 1, { metricLabel: false }), exp('z', 1)] },
    });
    const registry = new Registry(cfg);
    try {
      const e = new Experiments(cfg.policy.experiments, registry).assign(
        'u',
        registry.resolve('code'),
        'copilot',
      );
      assert.equal(e?.header, 'x=a0, y=a0, z=a0');
      assert.equal(e?.label, 'x=a0, z=a0');
    } finally {
      registry.destroy();
    }
  });
});

describe('policy config: mirrors', () => {
  it('a shadow deployment exists, serves no model, and is mirrored once; sample is 0..1', () => {
    const p = problems({
      mirrors: [
        { deployment: 'ghost', sample: 0.5 },
        { deployment: 'a1', sample: 0.5 },
        { deployment: 'shadow', sample: 1.5 },
        { deployment: 'shadow', sample: 1, match: { model: ['nope'], protocol: ['grpc'] } },
      ],
    });
    const want = [
      'policy.mirrors[0].deployment: unknown deployment "ghost"',
      'policy.mirrors[1].deployment: deployment "a1" serves a model; a shadow deployment must serve none',
      'policy.mirrors[2].sample: ',
      'policy.mirrors[3].deployment: deployment "shadow" is already mirrored',
      'policy.mirrors[3].match.protocol',
    ];
    for (const w of want)
      assert.ok(
        p.some((x) => x.startsWith(w)),
        `missing "${w}" in:\n${p.join('\n')}`,
      );
  });

  it('a mirror for some experiment arms names arms that exist', () => {
    const experiments = [{ name: 'rollout', arms: [arm('control'), arm('v2')] }];
    const cfg = validateConfig({
      ...base,
      policy: {
        experiments,
        mirrors: [{ deployment: 'shadow', sample: 1, match: { arms: ['rollout=v2'] } }],
      },
    });
    assert.deepEqual(cfg.policy.mirrors[0]?.match?.arms, ['rollout=v2']);
    assert.deepEqual(
      problems({
        experiments,
        mirrors: [{ deployment: 'shadow', sample: 1, match: { arms: ['rollout=v3', 'bad'] } }],
      }),
      [
        'policy.mirrors[0].match.arms[1]: expected "experiment=arm"',
        'policy.mirrors[0].match.arms[0]: no experiment arm "rollout=v3" in policy.experiments (known: rollout=control, rollout=v2)',
      ],
    );
    assert.deepEqual(
      problems({
        experiments,
        mirrors: [{ deployment: 'shadow', sample: 1, match: { arms: ['rollout=v3'] } }],
      }),
      [
        'policy.mirrors[0].match.arms[0]: no experiment arm "rollout=v3" in policy.experiments (known: rollout=control, rollout=v2)',
      ],
    );
  });

  it('a mirror matching an unknown model is reported once the rest parses', () => {
    assert.deepEqual(
      problems({ mirrors: [{ deployment: 'shadow', sample: 1, match: { model: ['nope'] } }] }),
      ['policy.mirrors[0].match.model: unknown model "nope" (known: code, copilot-codex, code-v2)'],
    );
    assert.deepEqual(
      problems({ mirrors: [{ deployment: 'shadow', sample: 1, match: { model: ['code', 'nope'] } }] }),
      ['policy.mirrors[0].match.model[1]: unknown model "nope" (known: code, copilot-codex, code-v2)'],
    );
    assert.deepEqual(problems({ mirrors: [{ deployment: 'shadow', sample: 1, match: { model: 'nope' } }] }), [
      'policy.mirrors[0].match.model: unknown model "nope" (known: code, copilot-codex, code-v2)',
    ]);
  });
});
