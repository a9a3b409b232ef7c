// Pins down what an operator sees: a bad `policy.limits` is refused with the path and a fix, and a
// Redis outage is logged when it starts, at most once per interval while it lasts, and once when
// it ends (never once per request).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateConfig } from '../../../src/config/load.js';
import { limitsStoreChannel, StoreHealth } from '../../../src/policy/limits/events.js';
import { logLimitsStore } from '../../../src/telemetry/limits-log.js';

const base = (limits: unknown) => ({
  auth: { mode: 'none' },
  deployments: [{ name: 'a', url: 'http://127.0.0.1:1' }],
  models: [{ name: 'm', deployments: ['a'] }],
  policy: { limits },
});

function problems(limits: unknown): string {
  try {
    validateConfig(base(limits));
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('expected the config to be refused');
}

describe('policy.limits config', () => {
  it('refuses what cannot work, naming the path', () => {
    assert.match(
      problems({ user: { burst: 5 } }),
      /policy\.limits\.user\.burst.*burst needs requestsPerSecond/s,
    );
    assert.match(problems({ store: 'redis' }), /policy\.limits\.redis.*store: redis needs redis\.url/s);
    assert.match(problems({ redis: { url: 'redis://x' } }), /policy\.limits\.store.*set store: redis/s);
    assert.match(problems({ store: 'redis', redis: { url: 'http://x' } }), /policy\.limits\.redis\.url/);
    assert.match(problems({ user: { requestsPerSecond: 0 } }), /policy\.limits\.user\.requestsPerSecond/);
    assert.match(problems({ org: { concurrent: 2 } }), /policy\.limits\.org/, 'concurrent is per user only');
    assert.match(problems({ user: { tokensPerMinute: 1.5 } }), /policy\.limits\.user\.tokensPerMinute/);
  });
  it('defaults: memory store, nothing limited', () => {
    const cfg = validateConfig(base({})).policy.limits;
    assert.equal(cfg.store, 'memory');
    assert.equal(cfg.user, undefined);
    assert.equal(validateConfig({ ...base({}), policy: {} }).policy.limits.memory.maxKeys, 100_000);
  });
});

describe('rate-limit store outage messages', () => {
  it('one line when it starts, at most one per interval, one when it ends', () => {
    const lines: string[] = [];
    const stop = logLimitsStore((l) => lines.push(l));
    try {
      const clock = { now: 0 };
      const h = new StoreHealth(true, 60_000, () => clock.now);
      for (let i = 0; i < 100; i++) {
        h.failed('not connected to Redis');
        clock.now += 100; // 10 s of failures
      }
      assert.equal(lines.length, 1);
      assert.match(
        lines[0] ?? '',
        /unreachable, failing open: not connected to Redis \(1 request admitted unchecked/,
      );
      clock.now += 60_000;
      h.failed('not connected to Redis');
      assert.equal(lines.length, 2);
      assert.match(lines[1] ?? '', /\(100 requests admitted unchecked since the last message\)/);
      h.ok();
      h.ok();
      assert.equal(lines.length, 3);
      assert.match(lines[2] ?? '', /reachable again after 70\.0 s \(101 requests not checked meanwhile\)/);
      assert.equal(limitsStoreChannel.name, 'ghostwire:policy:limits-store');
    } finally {
      stop();
    }
  });
});
