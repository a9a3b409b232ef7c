// Micro-benchmark of rate limits on the request path (policy/limits): the CPU one admission and
// its settle cost with the memory store (user + org + sku buckets, tokens per minute and a
// concurrency cap: every check there is), and the round trip of the Redis store's one EVALSHA
// against a real redis-server on loopback. Prints a markdown table; checks its own results
// (admissions and refusals in the expected numbers) so a broken limiter cannot look fast.
//
//   npx tsc -p . && node dist/bench/rate-limit.js [--iterations 200000] [--redis-calls 2000]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { RateLimitsConfig } from '../src/policy/limits-schema.js';
import { MemoryLimitStore } from '../src/policy/limits/memory-store.js';
import { Plans, type Plan } from '../src/policy/limits/plan.js';
import { RedisLimitStore } from '../src/policy/limits/redis-store.js';
import type { LimitSubject } from '../src/policy/limits/store.js';
import { startRedis } from '../test/helpers/redis.js';
import { median } from './stats.js';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '200000' },
    'redis-calls': { type: 'string', default: '2000' },
  },
});
const ITERATIONS = Number(args.iterations);
const REDIS_CALLS = Number(args['redis-calls']);
/** Distinct users in turn, as a busy gateway sees them; 50 orgs, one sku. */
const USERS = 10_000;

const cfg = RateLimitsConfig.parse({
  user: { requestsPerSecond: 1e6, burst: 1000, tokensPerMinute: 1e9, concurrent: 100 },
  org: { requestsPerSecond: 1e6, tokensPerMinute: 1e9 },
  sku: { requestsPerSecond: 1e6, tokensPerMinute: 1e9 },
});
const plan = new Plans(cfg).of('business') as Plan;
const subjects: LimitSubject[] = Array.from({ length: USERS }, (_, i) => ({
  uid: `user${i}@example.com`,
  org: `org${i % 50}`,
  sku: 'business',
}));

function memoryRun(): number {
  const store = new MemoryLimitStore(cfg.memory.maxKeys);
  let admitted = 0;
  const cpu = process.cpuUsage();
  for (let i = 0; i < ITERATIONS; i++) {
    const v = store.admit(subjects[i % USERS] as LimitSubject, plan, 0);
    if (v.ok) {
      admitted++;
      v.settle(16);
    }
  }
  const used = process.cpuUsage(cpu);
  if (admitted !== ITERATIONS) throw new Error(`memory store admitted ${admitted} of ${ITERATIONS}`);
  return ((used.user + used.system) * 1000) / ITERATIONS; // ns per request
}

async function redisRun(): Promise<{ p50: number; p99: number; cpuUs: number }> {
  const server = await startRedis();
  const store = new RedisLimitStore({
    url: server.url,
    keyPrefix: 'bench',
    timeoutMs: 1000,
    failOpen: true,
    logIntervalMs: 60_000,
  });
  try {
    await store.start();
    if (!store.connected) throw new Error('could not connect to redis-server');
    const tight = new Plans(RateLimitsConfig.parse({ user: { requestsPerSecond: 0.001, burst: 5 } })).of(
      'x',
    ) as Plan;
    // Checks itself: one user, burst 5, gets 5 admissions and then refusals.
    let ok = 0;
    for (let i = 0; i < 8; i++)
      if ((await store.admit({ uid: 'check', org: undefined, sku: 'x' }, tight, 0)).ok) ok++;
    if (ok !== 5) throw new Error(`redis store admitted ${ok} of 8 with burst 5`);
    const times: number[] = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < REDIS_CALLS; i++) {
      const started = performance.now();
      const v = await store.admit(subjects[i % USERS] as LimitSubject, plan, 60_000);
      times.push(performance.now() - started);
      if (!v.ok || !v.checked) throw new Error('redis store did not check');
      v.settle(16);
    }
    const used = process.cpuUsage(cpu);
    times.sort((a, b) => a - b);
    return {
      p50: median(times),
      p99: times[Math.floor(times.length * 0.99)] ?? NaN,
      cpuUs: (used.user + used.system) / REDIS_CALLS,
    };
  } finally {
    await store.close();
    await server.stop();
  }
}

const mem: number[] = [];
for (let r = 0; r < 5; r++) mem.push(memoryRun());
const redis = await redisRun();
process.stdout.write(
  [
    '| Rate limits (user + org + sku buckets, tokens/min, concurrency cap) | Cost |',
    '| --- | --- |',
    `| memory store: admit + settle, CPU per request (median of 5 × ${ITERATIONS}) | ${median(mem).toFixed(0)} ns |`,
    `| Redis store: one EVALSHA round trip, p50 / p99 (${REDIS_CALLS} sequential, loopback) | ${(redis.p50 * 1000).toFixed(0)} µs / ${(redis.p99 * 1000).toFixed(0)} µs |`,
    `| Redis store: gateway CPU per request (client side) | ${redis.cpuUs.toFixed(1)} µs |`,
    '',
  ].join('\n'),
);
