import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { Registry } from '../../src/routing/registry.js';
import { Router } from '../../src/routing/router.js';
import { channels, type HealthEvent } from '../../src/telemetry/events.js';

// Health changes are events: every change of every deployment is published on
// ghostwire:deployment:health and counted by the state it enters. No sockets: the changes are
// driven through the deployment's health with a fixed clock.

const registries: Registry[] = [];
after(() => {
  for (const r of registries) r.destroy();
});

describe('health events', () => {
  it('every change is published on ghostwire:deployment:health and counted by the state entered', () => {
    const cfg = validateConfig({
      auth: { mode: 'none' },
      deployments: [
        { name: 'eu-a', url: 'h2c://127.0.0.1:9', region: 'eu' },
        { name: 'eu-b', url: 'h2c://127.0.0.1:10', region: 'eu' },
      ],
      models: [{ name: 'm', deployments: ['eu-a', 'eu-b'] }],
      routing: {
        region: 'eu',
        health: {
          passive: { consecutiveFailures: 2, baseEjectionMs: 100 },
          active: { unhealthyThreshold: 2 },
        },
      },
    });
    const registry = new Registry(cfg);
    registries.push(registry);
    const router = new Router(registry, cfg.routing);
    const [a, b] = registry.deployments as [
      (typeof registry.deployments)[0],
      (typeof registry.deployments)[0],
    ];
    const events: HealthEvent[] = [];
    const onEvent = (m: unknown): void => void events.push(m as HealthEvent);
    channels.deploymentHealth.subscribe(onEvent);
    try {
      const h = a.health;
      h.onFailure(0, 'refused');
      h.onFailure(1, 'refused'); // healthy → ejected
      h.available(101); // ejected → half-open
      h.onFailure(102, 'refused', h.onDispatch()); // the trial fails: half-open → ejected
      h.onProbe(false, 110, 'refused');
      h.onProbe(false, 120, 'refused'); // ejected → down
      h.onProbe(true, 130); // down → ejected, then ejected → half-open (the probe found it again)
      h.onSuccess(140, h.onDispatch()); // half-open → healthy
      b.health.onProbe(false, 0, 'timeout');
      b.health.onProbe(false, 10, 'timeout'); // healthy → down
    } finally {
      channels.deploymentHealth.unsubscribe(onEvent);
    }
    assert.deepEqual(
      events.map((e) => `${e.deployment}@${e.region}: ${e.from}>${e.to}`),
      [
        'eu-a@eu: healthy>ejected',
        'eu-a@eu: ejected>half-open',
        'eu-a@eu: half-open>ejected',
        'eu-a@eu: ejected>down',
        'eu-a@eu: down>ejected',
        'eu-a@eu: ejected>half-open',
        'eu-a@eu: half-open>healthy',
        'eu-b@eu: healthy>down',
      ],
    );
    assert.ok(events.every((e) => e.reason.length > 0 && typeof e.at === 'number'));
    const stats = router.stats().health;
    assert.deepEqual(stats.transitionsTotal, { healthy: 1, ejected: 3, 'half-open': 2, down: 2 });
    assert.deepEqual(stats.deployments['eu-a'], {
      state: 'healthy',
      transitionsTotal: { healthy: 1, ejected: 3, 'half-open': 2, down: 1 },
      ejectionsTotal: 2,
    });
    assert.deepEqual(stats.deployments['eu-b'], {
      state: 'down',
      transitionsTotal: { healthy: 0, ejected: 0, 'half-open': 0, down: 1 },
      ejectionsTotal: 0,
    });
  });
});
