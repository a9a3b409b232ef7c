import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { RequestSignal } from '../../src/proxy/request-signal.js';
import type { Lease } from '../../src/routing/lease.js';
import { Registry } from '../../src/routing/registry.js';
import { Router, type RouteRequest } from '../../src/routing/router.js';

// No sockets: the router only hands out leases; nothing is dispatched in these tests.
const registries: Registry[] = [];
after(() => {
  for (const r of registries) r.destroy();
});

function setup(
  deployments: GatewayConfigInput['deployments'],
  routing: GatewayConfigInput['routing'] = {},
): {
  router: Router;
  registry: Registry;
  clock: { now: number };
  req: (o?: Partial<RouteRequest>) => RouteRequest;
} {
  const cfg = validateConfig({
    auth: { mode: 'none' },
    deployments,
    models: [{ name: 'm', deployments: deployments.map((d) => d.name) }],
    routing: { region: 'eu', regions: [{ name: 'eu' }, { name: 'us' }, { name: 'ap' }], ...routing },
  });
  const registry = new Registry(cfg);
  registries.push(registry);
  const clock = { now: 1000 };
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  const router = new Router(registry, cfg.routing, () => clock.now, random);
  const model = registry.resolve('m');
  const req = (o: Partial<RouteRequest> = {}): RouteRequest => ({
    model,
    key: undefined,
    exclude: undefined,
    signal: new RequestSignal(),
    deadlineAt: clock.now + 5000,
    ...o,
  });
  return { router, registry, clock, req };
}

const dep = (name: string, region: string, o: Record<string, unknown> = {}) => ({
  name,
  url: `h2c://127.0.0.1:${1 + name.length}`,
  region,
  ...o,
});

function eject(registry: Registry, name: string, now: number): void {
  const d = registry.deployments.find((x) => x.name === name);
  for (let i = 0; i < 5; i++) d?.health.onFailure(now, 'test');
}

/** The promise's value, or a failure when it takes longer than `ms` (a waiter left to its timer). */
async function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('router: regions, capacity, queue, spill-over', () => {
  it('prefers its own region while it has healthy capacity', () => {
    const { router, req } = setup([dep('us-1', 'us'), dep('eu-1', 'eu'), dep('eu-2', 'eu')]);
    for (let i = 0; i < 20; i++) {
      const lease = router.acquire(req()) as Lease;
      assert.equal(lease.deployment.region, 'eu');
      lease.release('success');
    }
  });

  it("never exceeds a deployment's capacity; when the region is full, a request waits, then spills", async () => {
    const { router, req, clock } = setup([dep('eu-1', 'eu', { maxConcurrent: 2 }), dep('us-1', 'us')], {
      queue: { maxWaiting: 10, maxWaitMs: 50 },
    });
    const held = [router.acquire(req()) as Lease, router.acquire(req()) as Lease];
    assert.deepEqual(
      held.map((l) => l.deployment.name),
      ['eu-1', 'eu-1'],
    );
    const waiting = router.acquire(req());
    assert.ok(waiting instanceof Promise, 'full but healthy: wait for local capacity first');
    assert.equal(router.stats().queued, 1);
    clock.now += 50;
    const spilled = await waiting;
    assert.equal(spilled.deployment.name, 'us-1', 'the wait ended: next region');
    assert.equal(router.stats().spilledTotal, 1);
  });

  it('a slot freed while waiting goes to the first waiter', async () => {
    const { router, req } = setup([dep('eu-1', 'eu', { maxConcurrent: 1 })], {
      queue: { maxWaiting: 10, maxWaitMs: 5000 },
    });
    const first = router.acquire(req()) as Lease;
    const w1 = router.acquire(req()) as Promise<Lease>;
    const w2 = router.acquire(req()) as Promise<Lease>;
    first.release('success');
    const got = await w1;
    assert.equal(got.deployment.name, 'eu-1');
    assert.equal(router.stats().queued, 1, 'the second still waits');
    got.release('success');
    (await w2).release('success');
  });

  it('an unhealthy region is skipped at once, in preference order', () => {
    const { router, registry, req, clock } = setup([dep('ap-1', 'ap'), dep('us-1', 'us'), dep('eu-1', 'eu')]);
    eject(registry, 'eu-1', clock.now);
    const lease = router.acquire(req()) as Lease;
    assert.equal(lease.deployment.name, 'us-1', 'us comes before ap in routing.regions');
  });

  it('full everywhere and no room in the queue: 503 GW_NO_CAPACITY with Retry-After', () => {
    const { router, req } = setup([dep('eu-1', 'eu', { maxConcurrent: 1 })], {
      queue: { maxWaiting: 0, maxWaitMs: 50 },
    });
    router.acquire(req());
    assert.throws(
      () => router.acquire(req()),
      (err: unknown) => err instanceof GatewayError && err.code === 'GW_NO_CAPACITY' && err.retryAfterS === 1,
    );
  });

  it('the wait never outlasts the deadline, and an abort while waiting rejects with its reason', async () => {
    const { router, req, clock } = setup([dep('eu-1', 'eu', { maxConcurrent: 1 })], {
      queue: { maxWaiting: 10, maxWaitMs: 60_000 },
    });
    router.acquire(req());
    assert.throws(() => router.acquire(req({ deadlineAt: clock.now })), /GW_NO_CAPACITY|capacity/);
    const signal = new RequestSignal();
    const waiting = router.acquire(req({ signal })) as Promise<Lease>;
    signal.abort(new GatewayError('GW_DEADLINE_EXCEEDED'));
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof GatewayError && e.code === 'GW_DEADLINE_EXCEEDED',
    );
    assert.equal(router.stats().queued, 0);
  });

  it('with a region to spill to, a short deadline waits only half of what is left, then spills', async () => {
    const { router, req, clock } = setup([dep('eu-1', 'eu', { maxConcurrent: 1 }), dep('us-1', 'us')], {
      queue: { maxWaiting: 10, maxWaitMs: 200 },
    });
    router.acquire(req());
    const started = performance.now();
    const waiting = router.acquire(req({ deadlineAt: clock.now + 60 }));
    assert.ok(waiting instanceof Promise);
    const lease = await waiting;
    const waited = performance.now() - started;
    assert.equal(lease.deployment.name, 'us-1');
    assert.ok(waited >= 25 && waited < 55, `waited ${waited} ms of a 60 ms deadline`);
  });

  it('a retry excludes the deployment that failed and does not queue', () => {
    const { router, req } = setup([dep('eu-1', 'eu'), dep('eu-2', 'eu', { maxConcurrent: 1 })]);
    const first = router.acquire(req()) as Lease;
    const other = first.deployment.name === 'eu-1' ? 'eu-2' : 'eu-1';
    const retry = router.acquireForRetry(req({ exclude: first.deployment }));
    assert.equal(retry?.deployment.name, other);
  });

  it('no retry once the deadline has passed: nothing is leased and no budget spent', () => {
    const { router, req, clock } = setup([dep('eu-1', 'eu'), dep('eu-2', 'eu')]);
    const first = router.acquire(req()) as Lease;
    const late = req({ exclude: first.deployment, deadlineAt: clock.now });
    assert.equal(router.acquireForRetry(late), undefined);
    assert.equal(router.stats().retriesTotal, 0);
    assert.ok(
      router.acquireForRetry({ ...late, deadlineAt: clock.now + 1 }) !== undefined,
      'a moment earlier: yes',
    );
  });

  it('nothing healthy anywhere: the request is tried anyway (panic routing), and readiness is 503', () => {
    const { router, registry, req, clock } = setup([dep('eu-1', 'eu'), dep('us-1', 'us')]);
    eject(registry, 'eu-1', clock.now);
    eject(registry, 'us-1', clock.now);
    const lease = router.acquire(req()) as Lease;
    assert.ok(lease !== undefined);
    assert.equal(router.stats().panicTotal, 1);
    assert.equal(router.readiness().ready, false);
  });

  it('readiness follows the local region only; the token exchange is steered to the nearest healthy region', () => {
    const { router, registry, clock } = setup([dep('eu-1', 'eu'), dep('us-1', 'us')], {
      regions: [
        { name: 'eu', publicUrl: 'https://eu.gw.example' },
        { name: 'us', publicUrl: 'https://us.gw.example' },
      ],
    });
    assert.equal(router.readiness().ready, true);
    assert.equal(router.nearestRegionUrl(), 'https://eu.gw.example');
    eject(registry, 'us-1', clock.now);
    assert.equal(router.readiness().ready, true, 'another region failing does not matter');
    eject(registry, 'eu-1', clock.now);
    // us-1's server went away and came back: its probe lost it and found it again.
    const us = registry.deployments.find((d) => d.name === 'us-1');
    us?.health.onProbe(false, clock.now, 'refused');
    us?.health.onProbe(true, clock.now);
    assert.deepEqual(router.readiness(), { ready: false, region: 'eu', usable: 0, total: 1 });
    assert.equal(router.nearestRegionUrl(), 'https://us.gw.example');
    clock.now += 1000; // eu-1's cool-down is over: due a trial, so ready again
    assert.equal(router.readiness().ready, true);
    assert.equal(router.nearestRegionUrl(), 'https://eu.gw.example');
  });

  it('the queue wait running out with no region to spill to: 503 GW_NO_CAPACITY with Retry-After', async () => {
    const { router, req } = setup([dep('eu-1', 'eu', { maxConcurrent: 1 })], {
      queue: { maxWaiting: 10, maxWaitMs: 30 },
    });
    router.acquire(req());
    const started = performance.now();
    const waiting = router.acquire(req());
    assert.ok(waiting instanceof Promise, 'full but healthy: it waits first');
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof GatewayError && e.code === 'GW_NO_CAPACITY' && e.retryAfterS === 1,
    );
    assert.ok(performance.now() - started >= 29, 'after maxWaitMs, not at once');
    const stats = router.stats();
    assert.equal(stats.queued, 0);
    assert.equal(stats.queuedTotal, 1);
    assert.equal(stats.noCapacityTotal, 1);
  });

  it('panic routing leaves a half-open deployment alone while its one trial runs', () => {
    const { router, registry, req, clock } = setup([dep('eu-1', 'eu', { weight: 100 }), dep('us-1', 'us')], {
      queue: { maxWaiting: 0 },
    });
    const eu = registry.deployments.find((d) => d.name === 'eu-1')!;
    const us = registry.deployments.find((d) => d.name === 'us-1')!;
    eject(registry, 'eu-1', clock.now);
    clock.now += 1000;
    const trial = router.acquire(req()) as Lease;
    assert.equal(trial.deployment, eu);
    assert.equal(trial.trial, true, 'cool-down over: the half-open trial');
    // Then the probes lose both: nothing is healthy anywhere, so panic routing takes over. eu-1,
    // by far the cheaper by weight, must still get nothing while its trial runs.
    for (const d of [eu, us]) for (let i = 0; i < 2; i++) d.health.onProbe(false, clock.now, 'refused');
    for (let i = 0; i < 10; i++) {
      const l = router.acquire(req()) as Lease;
      assert.equal(l.deployment, us, 'panic routing: any deployment with room, but not a running trial');
      l.release('neutral');
    }
    assert.equal(router.stats().panicTotal, 10);
    trial.release('neutral');
    const l = router.acquire(req()) as Lease;
    assert.equal(l.deployment, eu, 'the trial is over: eu-1 is a panic candidate again');
  });

  it('waiters wake when a deployment comes back by probe, without waiting for a release', async () => {
    const { router, registry, req, clock } = setup(
      [dep('eu-1', 'eu', { maxConcurrent: 1 }), dep('eu-2', 'eu')],
      {
        queue: { maxWaiting: 10, maxWaitMs: 5000 },
      },
    );
    const eu2 = registry.deployments.find((d) => d.name === 'eu-2')!;
    for (let i = 0; i < 2; i++) eu2.health.onProbe(false, clock.now, 'refused');
    const held = router.acquire(req()) as Lease;
    assert.equal(held.deployment.name, 'eu-1');
    const waiting = router.acquire(req());
    assert.ok(waiting instanceof Promise, 'eu-1 full and healthy, eu-2 down: wait');
    eu2.health.onProbe(true, clock.now);
    const lease = await within(waiting, 1000);
    assert.equal(lease.deployment, eu2);
    assert.equal(router.stats().queued, 0);
    assert.equal(router.stats().wokenTotal, 1);
    held.release('success');
  });

  it('waiters wake when a cool-down ends, though nothing is released and no request looks', async () => {
    const { router, registry, req, clock } = setup(
      [dep('eu-1', 'eu', { maxConcurrent: 1 }), dep('eu-2', 'eu')],
      {
        queue: { maxWaiting: 10, maxWaitMs: 5000 },
        health: { active: { enabled: false }, passive: { baseEjectionMs: 50 } },
      },
    );
    eject(registry, 'eu-2', clock.now); // out until clock 1050
    const held = router.acquire(req()) as Lease;
    assert.equal(held.deployment.name, 'eu-1');
    const waiting = router.acquire(req());
    assert.ok(waiting instanceof Promise);
    clock.now += 50; // the router's timer fires 50 ms from now and reads this clock
    const lease = await within(waiting, 1000);
    assert.equal(lease.deployment.name, 'eu-2');
    assert.equal(lease.trial, true, 'the woken waiter is the half-open trial');
    held.release('success');
  });

  it('token steering: the nearest healthy region that has a publicUrl, else this gateway', () => {
    const { router, registry, clock } = setup([dep('eu-1', 'eu'), dep('us-1', 'us'), dep('ap-1', 'ap')], {
      regions: [
        { name: 'eu', publicUrl: 'https://eu.gw.example' },
        { name: 'us' }, // healthy, but there is no URL to send clients to
        { name: 'ap', publicUrl: 'https://ap.gw.example' },
      ],
    });
    assert.equal(router.nearestRegionUrl(), 'https://eu.gw.example');
    eject(registry, 'eu-1', clock.now);
    assert.equal(router.nearestRegionUrl(), 'https://ap.gw.example', 'us is nearer but cannot be named');
    eject(registry, 'ap-1', clock.now);
    assert.equal(router.nearestRegionUrl(), 'https://eu.gw.example', 'no other region to name: this one');
  });

  it('token steering: while its own region is healthy, this gateway, with or without a publicUrl', () => {
    const { router, registry, clock } = setup([dep('eu-1', 'eu'), dep('us-1', 'us')], {
      regions: [{ name: 'eu' }, { name: 'us', publicUrl: 'https://us.gw.example' }],
    });
    assert.equal(router.nearestRegionUrl(), undefined, 'the URL the client used');
    eject(registry, 'eu-1', clock.now);
    assert.equal(router.nearestRegionUrl(), 'https://us.gw.example');
  });

  it('the same affinity key lands on the same deployment; a busy one is passed over', () => {
    const { router, req } = setup([dep('eu-1', 'eu'), dep('eu-2', 'eu'), dep('eu-3', 'eu')]);
    const key = 0xdeadbeef;
    const first = router.acquire(req({ key })) as Lease;
    first.release('success');
    for (let i = 0; i < 10; i++) {
      const l = router.acquire(req({ key })) as Lease;
      assert.equal(l.deployment, first.deployment);
      l.release('success');
    }
    const held: Lease[] = [];
    for (let i = 0; i < 4; i++) held.push(router.acquire(req({ key })) as Lease);
    assert.ok(
      held.some((l) => l.deployment !== first.deployment),
      'bounded load moved some of a hot key elsewhere',
    );
  });

  it('a deployment that fails is ejected through its leases, and its share moves away', () => {
    const { router, req } = setup([dep('eu-1', 'eu'), dep('eu-2', 'eu')]);
    let seen = 0;
    for (let i = 0; i < 40; i++) {
      const l = router.acquire(req()) as Lease;
      if (l.deployment.name === 'eu-1') l.release('failure', 'refused');
      else {
        seen++;
        l.release('success');
      }
    }
    assert.equal(seen, 35, 'five failures on eu-1, then everything on eu-2');
  });
});
