import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { affinityKey, affinityPick, fnv1a, type AffinityNode } from '../../src/routing/affinity.js';

const node = (name: string, o: Partial<AffinityNode> = {}): AffinityNode & { name: string } => ({
  name,
  outstanding: 0,
  capacity: 8,
  weight: 1,
  ttfbMs: 50,
  seed: fnv1a(name),
  ...o,
});

describe('affinity: key and bounded-load rendezvous hashing', () => {
  it('the key comes from the session and the prompt prefix; the explicit header wins', () => {
    const file = '// Path: src/app.ts\nimport x from "y";\n';
    const k1 = affinityKey(undefined, 'session-1', `${file}const a = 1;`, 40);
    const k2 = affinityKey(undefined, 'session-1', `${file}const a = 1; // typed on`, 40);
    assert.equal(k1, k2, 'typing past the prefix keeps the key');
    assert.notEqual(
      affinityKey(undefined, 'session-2', file, 40),
      affinityKey(undefined, 'session-1', file, 40),
    );
    assert.notEqual(affinityKey(undefined, 'session-1', '// Path: src/other.ts\n', 40), k1);
    assert.equal(affinityKey('pin', 'session-1', file, 40), affinityKey('pin', 'session-9', 'other', 40));
    assert.equal(affinityKey(undefined, undefined, undefined, 40), undefined);
    assert.equal(
      affinityKey(undefined, undefined, file, 0),
      undefined,
      'promptChars 0 and no session: no key',
    );
  });

  it('a key always maps to the same deployment while loads are even', () => {
    const nodes = [node('a'), node('b'), node('c')];
    for (let k = 0; k < 200; k++) {
      const first = affinityPick(nodes, fnv1a(`key-${k}`), 1.25);
      assert.equal(affinityPick([...nodes].reverse(), fnv1a(`key-${k}`), 1.25), first, 'order-independent');
    }
  });

  it('keys spread over deployments, in proportion to weight', () => {
    const nodes = [node('a'), node('b', { weight: 3 })];
    const counts = new Map<string, number>();
    for (let k = 0; k < 4000; k++) {
      const n = affinityPick(nodes, fnv1a(`key-${k}`), 10) as { name: string };
      counts.set(n.name, (counts.get(n.name) ?? 0) + 1);
    }
    const share = (counts.get('b') ?? 0) / 4000;
    assert.ok(share > 0.7 && share < 0.8, `weight 3 of 4 got ${share}`);
  });

  it('removing a deployment moves only its own keys', () => {
    const all = [node('a'), node('b'), node('c')];
    const without = [all[0]!, all[1]!];
    let moved = 0;
    for (let k = 0; k < 1000; k++) {
      const key = fnv1a(`key-${k}`);
      const before = affinityPick(all, key, 10) as { name: string };
      const after = affinityPick(without, key, 10) as { name: string };
      if (before.name !== 'c' && before.name !== after.name) moved++;
    }
    assert.equal(moved, 0);
  });

  it('bounded load: the preferred deployment is passed over while above its share, then the next in the key order', () => {
    const a = node('a');
    const b = node('b');
    const c = node('c');
    const key = fnv1a('hot-session');
    const preferred = affinityPick([a, b, c], key, 1.25) as { name: string };
    const byName = { a, b, c } as Record<string, AffinityNode & { outstanding: number }>;
    // Load the preferred one: 6 outstanding of 6 total; its share bound is ceil(1.25 × 7 / 3) = 3.
    (byName[preferred.name] as { outstanding: number }).outstanding = 6;
    const next = affinityPick([a, b, c], key, 1.25) as { name: string };
    assert.notEqual(next.name, preferred.name);
    // The spill target is stable too: the key's second choice.
    assert.equal(affinityPick([c, b, a], key, 1.25), next);
  });

  it('an idle set of equal replicas always admits the first choice', () => {
    const nodes = [node('a'), node('b'), node('c'), node('d')];
    for (let k = 0; k < 100; k++) assert.ok(affinityPick(nodes, fnv1a(`k${k}`), 1) !== undefined);
  });
});
