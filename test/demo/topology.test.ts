import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import {
  delayLinksFor,
  gatewayConfig,
  namespaceName,
  namespaceOwner,
  planRegions,
  rttMs,
} from '../../src/demo/topology.js';

describe('demo topology', () => {
  it('lays out regions with their own address, simulators and spill-over order by round trip', () => {
    const plan = planRegions(3, 2, 4242);
    assert.deepEqual(
      plan.regions.map((r) => [r.name, r.namespace, r.address, r.preference.join(',')]),
      [
        ['r1', 'gwdemo-4242-r1', '10.77.1.1', 'r1,r2,r3'],
        ['r2', 'gwdemo-4242-r2', '10.77.2.1', 'r2,r1,r3'],
        ['r3', 'gwdemo-4242-r3', '10.77.3.1', 'r3,r2,r1'],
      ],
    );
    assert.deepEqual(
      plan.regions[0]?.simulators.map((s) => `${s.name}@${s.host}:${s.port}`),
      ['r1-sim-a@10.77.1.1:9001', 'r1-sim-b@10.77.1.1:9002'],
    );
    assert.deepEqual(
      plan.links.map((l) => `${l.a}-${l.b}:${l.rttMs}`),
      ['r1-r2:40', 'r1-r3:150', 'r2-r3:90'],
    );
    assert.equal(rttMs('r2', 'r2'), 2);
    assert.throws(() => planRegions(4, 1, 1), /2 or 3/);
  });

  it('names namespaces so a stale one says whose it was', () => {
    assert.equal(namespaceOwner(namespaceName(31337, 'r2')), 31337);
    assert.equal(namespaceOwner('gwdemo-x-r1'), undefined);
    assert.equal(namespaceOwner('other-12-r1'), undefined);
  });

  it('relay mode: every hop is a delay link with half the round trip each way; netem mode: only the in-region one', () => {
    const plan = planRegions(2, 1, 1);
    const relay = delayLinksFor(plan, 'r1', 'relay');
    assert.deepEqual(
      relay.map((l) => [
        l.name,
        `${l.listenHost}:${l.listenPort}`,
        `${l.targetHost}:${l.targetPort}`,
        l.delayMs,
      ]),
      [
        ['r1-sim-a', '127.0.0.1:19101', '10.77.1.1:9001', 1],
        ['r2-sim-a', '127.0.0.1:19201', '10.77.2.1:9001', 20],
      ],
    );
    assert.deepEqual(
      delayLinksFor(plan, 'r1', 'netem').map((l) => l.name),
      ['r1-sim-a'],
    );
  });

  it("each region's gateway config passes the gateway's own schema, own region first", () => {
    const plan = planRegions(3, 2, 1);
    for (const mode of ['relay', 'netem'] as const) {
      for (const region of plan.regions) {
        const config = validateConfig(
          gatewayConfig(plan, region.name, mode, { maxConcurrent: 16, probeIntervalMs: 500 }),
          `${region.name} ${mode}`,
        );
        assert.equal(config.routing.region, region.name);
        assert.deepEqual(
          config.routing.regions.map((r) => r.name),
          region.preference,
        );
        assert.equal(config.listeners[0]?.host, region.address);
        assert.equal(config.deployments.length, 6);
        assert.equal(config.deployments[0]?.region, region.name);
        assert.deepEqual(
          config.models[0]?.deployments,
          config.deployments.map((d) => d.name),
        );
      }
    }
    const r1 = gatewayConfig(planRegions(2, 1, 1), 'r1', 'netem', {
      maxConcurrent: 16,
      probeIntervalMs: 500,
    });
    // netem mode: the other region's simulator is reached straight over the veth.
    assert.match(JSON.stringify(r1), /"url":"h2c:\/\/10\.77\.2\.1:9001"/);
  });
});
