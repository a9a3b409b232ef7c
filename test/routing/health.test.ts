import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeploymentHealth, type HealthChange } from '../../src/routing/health.js';

const PASSIVE = {
  consecutiveFailures: 3,
  failureRate: 0.5,
  minRequests: 10,
  windowMs: 10_000,
  baseEjectionMs: 1000,
  maxEjectionMs: 8000,
};
const ACTIVE = { unhealthyThreshold: 2, healthyThreshold: 1 };

function health(): { h: DeploymentHealth; changes: HealthChange[] } {
  const changes: HealthChange[] = [];
  const h = new DeploymentHealth(PASSIVE, ACTIVE, (c) => changes.push(c));
  return { h, changes };
}

describe('health: ejection, cool-down, half-open, probes', () => {
  it('consecutive failures eject for the base cool-down; a success in between resets the count', () => {
    const { h, changes } = health();
    h.onFailure(0, 'x');
    h.onFailure(1, 'x');
    h.onSuccess(2);
    h.onFailure(3, 'x');
    h.onFailure(4, 'x');
    assert.equal(h.state, 'healthy');
    h.onFailure(5, 'refused');
    assert.equal(h.state, 'ejected');
    assert.equal(h.available(5), false);
    assert.equal(h.available(1004), false);
    assert.match(changes[0]?.reason ?? '', /3 consecutive failures \(refused\); out for 1000 ms/);
  });

  it('a failure rate over the window ejects even without a run of failures', () => {
    const { h } = health();
    for (let i = 0; i < 10; i++) {
      if (i % 2 === 1) h.onFailure(i, 'x');
      else h.onSuccess(i);
      if (i === 8) assert.equal(h.state, 'healthy', 'below minRequests the rate is not judged');
    }
    assert.equal(h.state, 'ejected', '5 of 10 failed: rate 0.5 reached');
  });

  it('old failures age out of the window', () => {
    const { h } = health();
    for (let i = 0; i < 4; i++) {
      h.onFailure(i * 10, 'x');
      h.onSuccess(i * 10 + 1);
    }
    // 20 s later the window is empty again: 4 failures then 6 successes is below the rate.
    for (let i = 0; i < 6; i++) h.onSuccess(20_000 + i);
    h.onFailure(20_010, 'x');
    assert.equal(h.state, 'healthy');
  });

  it('after the cool-down one trial request at a time; success heals, failure ejects for twice as long', () => {
    const { h, changes } = health();
    for (let i = 0; i < 3; i++) h.onFailure(0, 'x');
    assert.equal(h.available(1000), true, 'cool-down over: half-open');
    assert.equal(h.state, 'half-open');
    assert.equal(h.onDispatch(), true, 'this request is the trial');
    assert.equal(h.available(1001), false, 'one trial at a time');
    assert.equal(h.usable(1001), true, 'still counts as capacity for readiness');
    assert.equal(h.healthy, false, 'but is not healthy capacity worth waiting for');
    h.onFailure(1002, 'x', true);
    assert.equal(h.state, 'ejected');
    assert.equal(h.available(2999), false);
    assert.equal(h.available(3002), true, 'second ejection lasts 2000 ms');
    const trial = h.onDispatch();
    h.onSuccess(3003, trial);
    assert.equal(h.state, 'healthy');
    assert.deepEqual(
      changes.map((c) => c.to),
      ['ejected', 'half-open', 'ejected', 'half-open', 'healthy'],
    );
  });

  it('the cool-down doubles on repeat up to the maximum', () => {
    const { h } = health();
    let now = 0;
    const lengths: number[] = [];
    for (let i = 0; i < 3; i++) h.onFailure(now, 'x');
    for (let round = 0; round < 6; round++) {
      let t = now;
      // Bounded: a trial slot that never frees must fail the test, not spin it forever.
      for (let k = 0; k < 1000 && !h.available(t); k++) t += 100;
      assert.ok(h.available(t), 'the cool-down ends');
      lengths.push(t - now);
      const trial = h.onDispatch();
      h.onFailure(t, 'x', trial);
      now = t;
    }
    // Three failures eject for 1 s; then each failed trial ejects for twice as long, up to 8 s.
    assert.deepEqual(lengths, [1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('a cancelled trial frees the trial slot without a verdict', () => {
    const { h } = health();
    for (let i = 0; i < 3; i++) h.onFailure(0, 'x');
    h.available(1000);
    const trial = h.onDispatch();
    assert.equal(h.available(1001), false);
    h.onNeutral(trial);
    assert.equal(h.available(1002), true);
    assert.equal(h.state, 'half-open');
  });

  it('requests sent before the ejection do not decide the half-open state: only the trial does', () => {
    const { h } = health();
    const early = h.onDispatch(); // sent while healthy, still running
    assert.equal(early, false);
    for (let i = 0; i < 3; i++) h.onFailure(0, 'x');
    h.available(1000);
    const trial = h.onDispatch();
    h.onNeutral(early); // the old request is cancelled: the trial slot stays taken
    assert.equal(h.available(1001), false);
    h.onFailure(1002, 'x', early); // the old request fails late: no re-ejection
    assert.equal(h.state, 'half-open');
    h.onSuccess(1003, early); // nor does its success heal
    assert.equal(h.state, 'half-open');
    h.onSuccess(1004, trial);
    assert.equal(h.state, 'healthy');
  });

  it('probes: two failures mark down, one success brings it back; a single failure is only suspect', () => {
    const { h, changes } = health();
    h.onProbe(false, 0, 'refused');
    assert.equal(h.state, 'healthy');
    assert.equal(h.probeSuspect, true);
    h.onProbe(false, 100, 'refused');
    assert.equal(h.state, 'down');
    assert.equal(h.available(100), false);
    assert.equal(h.usable(100), false);
    h.onProbe(true, 1000);
    assert.equal(h.state, 'healthy');
    assert.deepEqual(
      changes.map((c) => `${c.from}>${c.to}`),
      ['healthy>down', 'down>healthy'],
    );
  });

  it('a probe that answers again during a cool-down moves the deployment to half-open at once', () => {
    const { h } = health();
    for (let i = 0; i < 3; i++) h.onFailure(0, 'x');
    assert.equal(h.available(10), false);
    h.onProbe(true, 10);
    assert.equal(h.state, 'ejected', 'the probe was fine all along: it knows nothing new');
    h.onProbe(false, 20, 'refused');
    h.onProbe(true, 30);
    assert.equal(h.state, 'half-open', 'the probe had lost it and found it again');
    assert.equal(h.available(31), true);
  });
});
