import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { Lease, type LeaseOutcome } from '../../src/routing/lease.js';
import { Registry, type Target } from '../../src/routing/registry.js';

// No sockets: a lease only does bookkeeping on its deployment; nothing is dispatched.
const registries: Registry[] = [];
after(() => {
  for (const r of registries) r.destroy();
});

function setup(): {
  target: Target;
  clock: { now: number };
  released: { outcome: LeaseOutcome; reason: string; now: number }[];
  lease: () => Lease;
} {
  const cfg = validateConfig({
    auth: { mode: 'none' },
    deployments: [{ name: 'd', url: 'h2c://127.0.0.1:9', maxConcurrent: 4 }],
    models: [{ name: 'm', deployments: ['d'] }],
    routing: {
      health: { active: { enabled: false }, passive: { consecutiveFailures: 1, baseEjectionMs: 100 } },
    },
  });
  const registry = new Registry(cfg);
  registries.push(registry);
  const target = registry.resolve('m').targets[0]!;
  const clock = { now: 1000 };
  const released: { outcome: LeaseOutcome; reason: string; now: number }[] = [];
  const lease = (): Lease =>
    new Lease(
      target,
      clock.now,
      (_l, outcome, reason, now) => released.push({ outcome, reason, now }),
      () => clock.now,
    );
  return { target, clock, released, lease };
}

/** Ejects the deployment and lets its cool-down pass: the next lease is the half-open trial. */
function halfOpen(target: Target, clock: { now: number }): void {
  const h = target.deployment.health;
  h.onFailure(clock.now, 'test');
  clock.now += 100;
  assert.equal(h.available(clock.now), true);
  assert.equal(h.state, 'half-open');
}

describe('lease', () => {
  it('holds one slot from dispatch until it is released, exactly once', () => {
    const { target, released, lease } = setup();
    const l = lease();
    assert.equal(target.deployment.outstanding, 1);
    l.release('failure', 'refused');
    l.release('success');
    assert.equal(target.deployment.outstanding, 0);
    assert.deepEqual(released, [{ outcome: 'failure', reason: 'refused', now: 1000 }]);
    assert.equal(l.isReleased, true);
  });

  it('the first byte is one TTFB sample and proof the deployment answers', () => {
    const { target, clock, lease } = setup();
    const l = lease();
    clock.now += 40;
    l.firstByte();
    clock.now += 500;
    l.firstByte(); // later chunks are not samples
    const d = target.deployment;
    assert.equal(d.ttfb.count, 1);
    assert.equal(d.ttfb.value, 40);
    assert.equal(d.lastSuccessAt, 1040);
  });

  it('a deadline before the first byte is a TTFB sample but not an answer: neutral for a request, failure for a trial', () => {
    const { target, clock, lease } = setup();
    const d = target.deployment;
    const plain = lease();
    clock.now += 300;
    assert.equal(plain.deadlineBeforeFirstByte(), 'neutral');
    assert.equal(d.ttfb.value, 300, 'it is at least this slow');
    assert.equal(d.lastSuccessAt, -Infinity, 'silence proves nothing');
    plain.release('neutral');

    halfOpen(target, clock);
    const trial = lease();
    assert.equal(trial.trial, true);
    clock.now += 300;
    assert.equal(trial.deadlineBeforeFirstByte(), 'failure');
    assert.equal(d.health.state, 'half-open', 'not healed by the timeout');
    assert.equal(d.lastSuccessAt, -Infinity);
  });

  it('a deadline after the first byte says nothing more', () => {
    const { target, clock, lease } = setup();
    halfOpen(target, clock);
    const trial = lease();
    clock.now += 20;
    trial.firstByte();
    assert.equal(target.deployment.health.state, 'healthy', 'a trial heals at its first byte');
    clock.now += 5000;
    assert.equal(trial.deadlineBeforeFirstByte(), 'neutral');
    assert.equal(target.deployment.ttfb.count, 1);
  });

  it('only one lease at a time is the half-open trial, even one sent past available() (panic routing)', () => {
    const { target, clock, lease } = setup();
    halfOpen(target, clock);
    const first = lease();
    const second = lease();
    assert.equal(first.trial, true);
    assert.equal(second.trial, false, 'its outcome must not decide the half-open state');
    assert.equal(target.deployment.health.trialInProgress, true);
  });
});
