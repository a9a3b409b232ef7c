// The load client (bench/load.ts) in-process against a real simulator on real sockets: the affinity
// workload's session header reaches the server, and its hit rate is what the simulator counted. Run:
//   npx tsc -p tsconfig.json && node --test dist/bench/load.test.js
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { runLoad, type LoadOptions } from './load.js';

let sim: Simulator;
before(async () => {
  sim = await startSimulator({ ttftMs: 0, tokenMs: 0, maxTokens: 4 });
});
after(() => sim.close());

function options(overrides: Partial<LoadOptions>): LoadOptions {
  return {
    url: sim.url,
    mode: 'closed',
    rate: 100,
    concurrency: 1,
    durationMs: 10_000,
    count: 2,
    warmupMs: 0,
    connections: 1,
    path: '/v1/engines/default/completions',
    maxTokens: 4,
    drainMs: 5000,
    maxInflight: 64,
    client: 'raw',
    sync: false,
    authorization: [],
    affinity: undefined,
    statsUrls: [],
    editors: false,
    ...overrides,
  };
}

const noop = (): Promise<void> => Promise.resolve();

for (const client of ['raw', 'node'] as const) {
  void test(`${client} client: one session and one file sent twice is a miss, then a hit`, async () => {
    const result = await runLoad(
      options({ client, affinity: { sessions: 1, files: 1, seed: 1 }, statsUrls: [sim.url] }),
      noop,
    );
    assert.equal(result.ok, 2, JSON.stringify(result.errors));
    assert.deepEqual(result.affinity, { sessions: 1, files: 1 });
    assert.deepEqual(result.prefixCache, { hits: 1, misses: 1, hitRate: 0.5 });
    const last = sim.lastRequest();
    assert.match(last?.headers['vscode-sessionid'] ?? '', /^[0-9a-f-]{36}\d{13}$/);
    assert.match(
      (last?.body as { prompt: string }).prompt,
      /^\/\/ Path: ws-[0-9a-f]{8}\/src\/file_0_0\.ts\n/,
    );
  });
}

void test('many sessions and files: every request is a hit or a miss, and --stats-url takes /stats too', async () => {
  const result = await runLoad(
    options({
      concurrency: 4,
      count: 40,
      affinity: { sessions: 3, files: 2, seed: 5 },
      statsUrls: [`${sim.url}/stats`],
    }),
    noop,
  );
  assert.equal(result.ok, 40);
  const cache = result.prefixCache;
  assert.ok(cache !== undefined);
  assert.equal(cache.hits + cache.misses, 40);
  // Six (session, file) pairs, a fresh run tag: exactly the first request of each pair misses.
  assert.equal(cache.misses, 6);
});

void test('the default workload is unchanged: no session header, no prefixCache without --stats-url', async () => {
  const result = await runLoad(options({ count: 3 }), noop);
  assert.equal(result.ok, 3);
  assert.equal(result.prefixCache, undefined);
  assert.equal(result.affinity, undefined);
  assert.equal(sim.lastRequest()?.headers['vscode-sessionid'], undefined);
  assert.match((sim.lastRequest()?.body as { prompt: string }).prompt, /^\/\/ file: src\/cache\//);
});

for (const client of ['raw', 'node'] as const) {
  void test(`${client} client: --editors sends each editor's version headers in turn`, async () => {
    const result = await runLoad(options({ client, editors: true, count: 32 }), noop);
    assert.equal(result.ok, 32, JSON.stringify(result.errors));
    // Requests 16–31 are the second editor's; the last one must carry its headers.
    const last = sim.lastRequest();
    assert.equal(last?.headers['editor-version'], 'vscode/1.96.2');
    assert.equal(last?.headers['editor-plugin-version'], 'copilot/1.254.0');
    assert.equal(last?.headers['user-agent'], 'GithubCopilot/1.254.0');
  });
}
