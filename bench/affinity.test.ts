// The affinity workload's requests (bench/affinity.ts): what makes the gateway's affinity key and
// the simulator's prefix-cache key repeat for one session's file, and only for it. Run:
//   npx tsc -p tsconfig.json && node --test dist/bench/affinity.test.js
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AffinityWorkload, prefixCacheBetween } from './affinity.js';
import { encodeHeaders } from './h2-client.js';

interface Body {
  prompt: string;
  suffix: string;
  max_tokens: number;
  stream: boolean;
}

const KEY_CHARS = 256;

void test('every body is valid JSON whose prompt starts with its file prefix, past the 256-character key', () => {
  const w = new AffinityWorkload({ sessions: 3, files: 2, maxTokens: 8, seed: 7, runTag: 'test' });
  // The cache key (first 256 characters) → which session/file it belongs to, and its whole prefix.
  const files = new Map<string, { s: number; prefix: string }>();
  for (let s = 0; s < 3; s++)
    for (let f = 0; f < 2; f++) {
      const prefix = w.filePrefix(s, f);
      assert.ok(prefix.length > KEY_CHARS, `prefix of ${s}/${f} is ${prefix.length} characters`);
      assert.ok(prefix.startsWith(`// Path: ws-test/src/file_${s}_${f}.ts\n`));
      files.set(prefix.slice(0, KEY_CHARS), { s, prefix });
    }
  assert.equal(files.size, 6, 'no two files share a cache key');

  const seen = new Set<string>();
  const endings = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const { body, headers } = w.next();
    const parsed = JSON.parse(body.toString()) as Body;
    assert.equal(parsed.max_tokens, 8);
    assert.equal(parsed.stream, true);
    assert.equal(parsed.suffix, '\n}\n');
    const file = files.get(parsed.prompt.slice(0, KEY_CHARS));
    assert.ok(file !== undefined, 'the prompt starts with one of the file prefixes');
    assert.ok(parsed.prompt.startsWith(file.prefix), 'the whole fixed head, not only the key');
    const sessionId = headers?.fields['vscode-sessionid'];
    assert.equal(sessionId, w.sessionId(file.s), "the header is the file's own session's");
    assert.deepEqual(headers?.hpack, encodeHeaders({ 'vscode-sessionid': sessionId ?? '' }));
    seen.add(file.prefix);
    endings.add(parsed.prompt.slice(file.prefix.length));
  }
  assert.equal(seen.size, 6, 'every session and file is used');
  assert.ok(endings.size > 1, 'the user typed on: the endings differ');
});

void test("session ids look like VS Code's (a UUID and a timestamp) and differ per session and per run", () => {
  const a = new AffinityWorkload({ sessions: 2, files: 1, maxTokens: 1, seed: 1 });
  const b = new AffinityWorkload({ sessions: 2, files: 1, maxTokens: 1, seed: 1 });
  assert.match(a.sessionId(0), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\d{13}$/);
  assert.equal(new Set([a.sessionId(0), a.sessionId(1), b.sessionId(0)]).size, 3);
  // A fresh run must not hit prefixes an earlier run left in a simulator's cache.
  assert.notEqual(a.filePrefix(0, 0), b.filePrefix(0, 0));
});

void test('bad shapes are refused', () => {
  for (const [sessions, files] of [
    [0, 1],
    [1, 0],
    [1.5, 1],
    [10_001, 1],
    [10_000, 100],
  ] as const) {
    assert.throws(() => new AffinityWorkload({ sessions, files, maxTokens: 1, seed: 1 }), RangeError);
  }
});

void test('the hit rate is summed over simulators; a reset in between counts from the reset', () => {
  assert.deepEqual(
    prefixCacheBetween(
      [
        { hits: 10, misses: 5 },
        { hits: 100, misses: 100 },
      ],
      [
        { hits: 13, misses: 6 },
        { hits: 2, misses: 2 }, // reset during the run
      ],
    ),
    { hits: 5, misses: 3, hitRate: 0.625 },
  );
  assert.deepEqual(prefixCacheBetween([{ hits: 1, misses: 1 }], [{ hits: 1, misses: 1 }]), {
    hits: 0,
    misses: 0,
    hitRate: null,
  });
});
