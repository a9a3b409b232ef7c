// Micro-benchmark of the routing decision, which runs on every completion: Router.acquire()
// (region order, health, capacity, power of two choices or bounded-load affinity) plus the
// lease's release (health and EWMA bookkeeping, waking waiters). No sockets: the registry's
// transports are never used. Prints a markdown table; checks its own results.
//
//   npx tsc -p . && node dist/bench/routing-pick.js [--iterations 500000] [--runs 5]
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { validateConfig } from '../src/config/load.js';
import { RequestSignal } from '../src/proxy/request-signal.js';
import { affinityKey } from '../src/routing/affinity.js';
import { Lease } from '../src/routing/lease.js';
import { Registry } from '../src/routing/registry.js';
import { Router, type RouteRequest } from '../src/routing/router.js';
import { median } from './stats.js';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '500000' },
    runs: { type: 'string', default: '5' },
  },
});
const ITERATIONS = Number(args.iterations);
const RUNS = Number(args.runs);

interface Case {
  name: string;
  regions: string[][];
  affinity: boolean;
  /** Requests held open at once (others in flight while this one is routed). */
  inflight: number;
}

const CASES: Case[] = [
  { name: '1 deployment', regions: [['a']], affinity: false, inflight: 8 },
  { name: '3 deployments, power of two choices', regions: [['a', 'b', 'c']], affinity: false, inflight: 8 },
  { name: '3 deployments, affinity (bounded load)', regions: [['a', 'b', 'c']], affinity: true, inflight: 8 },
  {
    name: '3 regions × 4, local region unhealthy (spill)',
    regions: [
      ['l1', 'l2', 'l3', 'l4'],
      ['r1', 'r2', 'r3', 'r4'],
      ['s1', 's2', 's3', 's4'],
    ],
    affinity: false,
    inflight: 8,
  },
];

function build(c: Case): { router: Router; registry: Registry; req: (i: number) => RouteRequest } {
  const names = c.regions.flat();
  const cfg = validateConfig({
    auth: { mode: 'none' },
    routing: { region: 'r0', regions: c.regions.map((_, i) => ({ name: `r${i}` })) },
    deployments: c.regions.flatMap((ds, i) =>
      ds.map((name, j) => ({ name, url: `h2c://127.0.0.1:${10_000 + i * 10 + j}`, region: `r${i}` })),
    ),
    models: [{ name: 'm', deployments: names }],
  });
  const registry = new Registry(cfg);
  const router = new Router(registry, cfg.routing);
  if (c.name.includes('unhealthy'))
    for (const d of registry.deployments)
      if (d.region === 'r0') for (let k = 0; k < 5; k++) d.health.onFailure(performance.now(), 'bench');
  const model = registry.resolve('m');
  const signal = new RequestSignal();
  // 64 editor sessions × files: what an affinity key is computed from on the request path.
  const prompts = Array.from({ length: 64 }, (_, i) => `// Path: src/file${i}.ts\n${'x'.repeat(300)}`);
  const req = (i: number): RouteRequest => ({
    model,
    key: c.affinity ? affinityKey(undefined, `session-${i & 63}`, prompts[i & 63], 256) : undefined,
    exclude: undefined,
    signal,
    deadlineAt: Infinity,
  });
  return { router, registry, req };
}

function run(c: Case): { nsPerOp: number; minNs: number; maxNs: number } {
  const { router, registry, req } = build(c);
  const ring: Lease[] = [];
  const body = (n: number): number => {
    let good = 0;
    for (let i = 0; i < n; i++) {
      const lease = router.acquire(req(i));
      if (!(lease instanceof Lease)) throw new Error('unexpected wait');
      lease.firstByte();
      ring.push(lease);
      if (ring.length > c.inflight) (ring.shift() as Lease).release('success');
      good++;
    }
    return good;
  };
  body(50_000);
  const perRun: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint();
    if (body(ITERATIONS) !== ITERATIONS) throw new Error(`${c.name}: wrong count`);
    perRun.push(Number(process.hrtime.bigint() - start) / ITERATIONS);
  }
  for (const l of ring.splice(0)) l.release('success');
  registry.destroy();
  return { nsPerOp: median(perRun), minNs: Math.min(...perRun), maxNs: Math.max(...perRun) };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const cpu = cpus();
console.log(
  `Routing decision micro-benchmark: node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}; ` +
    `${fmt(ITERATIONS)} acquire + release per run, median of ${RUNS} runs, 8 requests in flight.\n`,
);
console.log('| Case | ns/request | µs/request | runs min–max ns |');
console.log('| --- | ---: | ---: | ---: |');
for (const c of CASES) {
  const r = run(c);
  console.log(
    `| ${c.name} | ${fmt(r.nsPerOp)} | ${(r.nsPerOp / 1000).toFixed(2)} | ${fmt(r.minNs)}–${fmt(r.maxNs)} |`,
  );
}
