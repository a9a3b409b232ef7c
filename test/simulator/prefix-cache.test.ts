import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startSimulator, type SimulatorStats } from '../../src/simulator/index.js';
import { PrefixCache } from '../../src/simulator/prefix-cache.js';
import { connectH2, h1Request, h2ReadUntil, h2Open, h2Request, waitFor } from './helpers.js';

const ENGINE_PATH = '/v1/engines/copilot-codex/completions';

describe('PrefixCache (the LRU)', () => {
  test('a prefix seen before is a hit; only the first prefixChars characters matter', () => {
    const cache = new PrefixCache(4, 8);
    assert.equal(cache.lookup('abcdefgh-one'), false);
    assert.equal(cache.lookup('abcdefgh-two'), true, 'same first 8 characters');
    assert.equal(cache.lookup('abcdefgX-one'), false, 'differs within the prefix');
    assert.equal(cache.lookup('abc'), false, 'a shorter prompt is its own key');
    assert.equal(cache.lookup('abc'), true);
    assert.equal(cache.size, 3);
  });

  test('when full, the least recently used entry is evicted; a hit makes an entry the newest', () => {
    const cache = new PrefixCache(2, 256);
    assert.equal(cache.lookup('a'), false);
    assert.equal(cache.lookup('b'), false);
    assert.equal(cache.lookup('a'), true); // a is now newer than b
    assert.equal(cache.lookup('c'), false); // evicts b, the least recently used
    assert.equal(cache.size, 2);
    assert.equal(cache.lookup('a'), true);
    assert.equal(cache.lookup('b'), false, 'b was evicted (and now evicts c)');
    assert.equal(cache.lookup('c'), false, 'c was evicted');
    assert.equal(cache.size, 2, 'bounded');
  });

  test('memory stays bounded under many distinct prefixes', () => {
    const cache = new PrefixCache(16, 32);
    for (let i = 0; i < 10_000; i++) cache.lookup(`// file ${i}\n`);
    assert.equal(cache.size, 16);
    assert.equal(cache.lookup('// file 9999\n'), true);
    assert.equal(cache.lookup('// file 0\n'), false);
  });
});

describe('prefix cache counters in /stats (real sockets)', () => {
  test('same prefix twice: one miss then one hit; POST /stats/reset zeroes the counters, not the cache', async () => {
    const sim = await startSimulator({ ttftMs: 0, tokenMs: 0, prefixChars: 16 });
    const session = await connectH2(sim.url);
    try {
      const ask = (prompt: string): Promise<unknown> =>
        h2Request(session, { path: ENGINE_PATH, body: { prompt, max_tokens: 2 } });
      await ask('// Path: a.ts\nconst a = 1;\n');
      await ask('// Path: a.ts\nconst a = 1;\nconst b'); // typed on: same first 16 characters
      await ask('// Path: b.ts\nconst a = 1;\n');
      const stats = JSON.parse(
        (await h1Request(sim.url, { method: 'GET', path: '/stats' })).body,
      ) as SimulatorStats;
      assert.deepEqual([stats.prefix_cache_hits, stats.prefix_cache_misses], [1, 2]);

      await h1Request(sim.url, { path: '/stats/reset' });
      assert.deepEqual([sim.stats().prefix_cache_hits, sim.stats().prefix_cache_misses], [0, 0]);
      await ask('// Path: b.ts\nconst z'); // the same 16 characters as the last request before the reset
      assert.deepEqual([sim.stats().prefix_cache_hits, sim.stats().prefix_cache_misses], [1, 0]);
    } finally {
      session.close();
      await sim.close();
    }
  });

  test('requests that never get a slot (bad body, client gone while queued) neither hit nor miss', async () => {
    const sim = await startSimulator({ ttftMs: 0, tokenMs: 5, slots: 1 });
    const session = await connectH2(sim.url);
    try {
      const bad = await h2Request(session, { path: ENGINE_PATH, body: { prompt: 'p', n: 'two' } });
      assert.equal(bad.status, 400);
      const holder = h2Open(session, { path: ENGINE_PATH, body: { prompt: 'held', max_tokens: 256 } });
      await h2ReadUntil(holder, (t) => t.includes('data: '));
      const queued = h2Open(session, { path: ENGINE_PATH, body: { prompt: 'queued', max_tokens: 1 } });
      await waitFor(() => sim.stats().queued === 1, 'the second request to queue');
      queued.close();
      holder.close();
      await waitFor(() => sim.stats().active === 0 && sim.stats().cancelled === 2, 'both cancelled');
      const s = sim.stats();
      assert.equal(s.cancelled, 2);
      assert.deepEqual([s.prefix_cache_hits, s.prefix_cache_misses], [0, 1], 'only the holder prefilled');
    } finally {
      session.close();
      await sim.close();
    }
  });

  test('cachedTtftMs: a hit streams its first token sooner than a miss', async () => {
    const sim = await startSimulator({ ttftMs: 300, cachedTtftMs: 0, tokenMs: 0 });
    const session = await connectH2(sim.url);
    try {
      const timed = async (prompt: string): Promise<number> => {
        const t0 = performance.now();
        const stream = h2Open(session, { path: ENGINE_PATH, body: { prompt, max_tokens: 1 } });
        await h2ReadUntil(stream, (t) => t.includes('data: '));
        return performance.now() - t0;
      };
      const miss = await timed('function first() {');
      const hit = await timed('function first() {');
      assert.ok(miss >= 290, `miss took ${miss.toFixed(1)} ms`);
      assert.ok(hit < 200, `hit took ${hit.toFixed(1)} ms`);
      assert.deepEqual([sim.stats().prefix_cache_hits, sim.stats().prefix_cache_misses], [1, 1]);
    } finally {
      session.close();
      await sim.close();
    }
  });

  test('prefixCacheEntries 0 disables the cache: nothing is counted', async () => {
    const sim = await startSimulator({ ttftMs: 0, tokenMs: 0, prefixCacheEntries: 0 });
    try {
      for (let i = 0; i < 2; i++)
        await h1Request(sim.url, { path: '/v1/completions', body: { prompt: 'same', max_tokens: 1 } });
      assert.equal(sim.stats().completed, 2);
      assert.deepEqual([sim.stats().prefix_cache_hits, sim.stats().prefix_cache_misses], [0, 0]);
    } finally {
      await sim.close();
    }
  });
});
