// Pins down what `policy.rules` refuses at load (issue 7, item 1): a rule that could not do what it
// says is a config error with its path, never a surprise at request time — clamp bounds the wrong
// way round or not numbers, fields a clamp cannot bound, contradictory actions, a reject with
// edits, ranges that do not parse, duplicate names, a routeTo to no model.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateConfig } from '../../src/config/load.js';
import { RulesConfig } from '../../src/policy/rules-schema.js';

/** The problems a rules list has, as "path: message" lines (empty when it is valid). */
function problems(rules: unknown): string[] {
  const r = RulesConfig.safeParse(rules);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

function refused(rules: unknown, pattern: RegExp): void {
  const p = problems(rules);
  assert.ok(
    p.some((line) => pattern.test(line)),
    `expected a problem matching ${pattern}, got: ${p.join(' | ') || 'none'}`,
  );
}

describe('policy.rules schema', () => {
  it('clamp: min above max is refused; equal bounds are fine; one bound is enough, none is not', () => {
    refused(
      [{ name: 'c', clamp: { max_tokens: { min: 100, max: 10 } } }],
      /0\.clamp\.max_tokens: min must not be above max/,
    );
    refused([{ name: 'c', clamp: { temperature: { min: 1.5, max: 0.5 } } }], /min must not be above max/);
    assert.deepEqual(problems([{ name: 'c', clamp: { temperature: { min: 0.5, max: 0.5 } } }]), []);
    assert.deepEqual(problems([{ name: 'c', clamp: { max_tokens: { max: 64 } } }]), []);
    refused([{ name: 'c', clamp: { max_tokens: {} } }], /give min, max or both/);
  });

  it('clamp: bounds must be numbers in the field’s own range; only numeric fields can be clamped', () => {
    refused(
      [{ name: 'c', clamp: { max_tokens: { max: '64' } } }],
      /clamp\.max_tokens\.max: .*expected number/,
    );
    refused([{ name: 'c', clamp: { temperature: { max: 3 } } }], /clamp\.temperature\.max/);
    refused([{ name: 'c', clamp: { max_tokens: { max: 1.5 } } }], /clamp\.max_tokens\.max/);
    refused([{ name: 'c', clamp: { stop: { max: 2 } } }], /unrecognized|stop/i);
    refused([{ name: 'c', clamp: { logit_bias: { max: 2 } } }], /unrecognized|logit_bias/i);
  });

  it('set: values are checked as a client’s would be; unknown fields are refused', () => {
    refused([{ name: 's', set: { max_tokens: 0 } }], /set\.max_tokens/);
    refused([{ name: 's', set: { temperature: 'warm' } }], /set\.temperature/);
    refused([{ name: 's', set: { seed: -1 } }], /set\.seed/);
    refused([{ name: 's', set: { logit_bias: { abc: 1 } } }], /token id/);
    refused([{ name: 's', set: { logit_bias: { '5': 101 } } }], /set\.logit_bias/);
    refused([{ name: 's', set: { prompt: 'x' } }], /unrecognized|prompt/i);
    refused([{ name: 's', delete: ['prompt'] }], /delete/);
  });

  it('a field takes one of set, default or delete; a deleted field cannot be clamped', () => {
    refused([{ name: 'x', set: { n: 1 }, delete: ['n'] }], /"n" is also in set/);
    refused([{ name: 'x', set: { n: 1 }, default: { n: 2 } }], /"n" is also in set/);
    refused(
      [{ name: 'x', delete: ['max_tokens'], clamp: { max_tokens: { max: 2 } } }],
      /is deleted by this rule/,
    );
    assert.deepEqual(
      problems([{ name: 'x', default: { max_tokens: 99 }, clamp: { max_tokens: { max: 64 } } }]),
      [],
    );
  });

  it('a reject takes no other action and a status from 400 to 599; a rule needs some action', () => {
    refused(
      [{ name: 'r', reject: { status: 426, message: 'x' }, set: { n: 1 } }],
      /takes no other action \(found set\)/,
    );
    refused([{ name: 'r', reject: { status: 302, message: 'x' } }], /reject\.status/);
    refused([{ name: 'r', reject: { status: 426 } }], /reject\.message/);
    refused([{ name: 'r', match: { model: 'x' } }], /a rule needs an action/);
    assert.deepEqual(problems([{ name: 'r', match: { model: 'x' }, final: true }]), []);
  });

  it('match: ranges, names, patterns and header names are checked', () => {
    refused([{ name: 'm', match: { plugin: 'copilot <1.x.2' }, final: true }], /match\.plugin: .*wildcard/);
    refused([{ name: 'm', match: { plugin: 'copilot >=banana' }, final: true }], /is not a version/);
    refused(
      [{ name: 'm', match: { editor: 'vs*code' }, final: true }],
      /expected "<name> \[<version range>\]"/,
    );
    refused([{ name: 'm', match: { model: 'gpt-*-mini' }, final: true }], /a \* may only end a pattern/);
    refused([{ name: 'm', match: { path: 'v1/completions' }, final: true }], /a path starts with \//);
    refused([{ name: 'm', match: { headers: { 'X-Upper': 'a' } }, final: true }], /lower-case header name/);
    refused([{ name: 'm', match: { protocol: 'grpc' }, final: true }], /match\.protocol/);
    refused([{ name: 'm', match: { colour: 'red' }, final: true }], /unrecognized|colour/i);
  });

  it('names are unique, reported even when another rule is broken too', () => {
    const p = problems([
      { name: 'a', set: { n: 1 } },
      { name: 'b', clamp: { n: { min: 3, max: 1 } } },
      { name: 'a', set: { n: 2 } },
    ]);
    assert.ok(
      p.some((l) => /^2\.name: duplicate rule name "a"/.test(l)),
      p.join(' | '),
    );
    assert.ok(
      p.some((l) => /^1\.clamp\.n: min must not be above max/.test(l)),
      p.join(' | '),
    );
  });

  it('routeTo must name a configured model or alias (checked with the whole config)', () => {
    const base = {
      listeners: [{ host: '127.0.0.1', port: 0 }],
      auth: { mode: 'none' },
      deployments: [{ name: 'd', url: 'h2c://127.0.0.1:1' }],
      models: [{ name: 'default', aliases: ['copilot-codex'], deployments: ['d'] }],
    };
    assert.doesNotThrow(() =>
      validateConfig({ ...base, policy: { rules: [{ name: 'r', routeTo: 'copilot-codex' }] } }),
    );
    assert.throws(
      () => validateConfig({ ...base, policy: { rules: [{ name: 'r', routeTo: 'nowhere' }] } }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some(
          (p) => p.path === 'policy.rules[0].routeTo' && /unknown model "nowhere"/.test(p.message),
        ),
    );
  });

  it('no rules is the default', () => {
    assert.deepEqual(RulesConfig.parse(undefined), []);
  });
});
