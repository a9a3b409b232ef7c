import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CorpusError, loadCorpus, typeableLineStarts } from '../../src/loadgen/corpus.js';
import { Random, Typist, TYPING_DEFAULTS, type TypingParams } from '../../src/loadgen/typing.js';

const NO_PAUSES: TypingParams = { ...TYPING_DEFAULTS, pauseProb: 0, linePauseProb: 0 };

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sd(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

test('the same seed types at the same times; another seed does not', () => {
  const delays = (seed: number): number[] => {
    const t = new Typist(TYPING_DEFAULTS, new Random(seed));
    return Array.from({ length: 200 }, (_, i) => t.nextDelayMs(i % 40 === 0 ? '\n' : 'x'));
  };
  assert.deepEqual(delays(7), delays(7));
  assert.notDeepEqual(delays(7), delays(8));
});

test("developers' mean inter-key intervals have the study's mean and spread (Dhakal et al. 2018)", () => {
  const rng = new Random(1);
  const means = Array.from({ length: 20_000 }, () => new Typist(NO_PAUSES, rng).meanIkiMs);
  const m = mean(means);
  const s = sd(means);
  assert.ok(Math.abs(m - 238.66) / 238.66 < 0.02, `mean of developers' means ${m.toFixed(1)} ms`);
  assert.ok(Math.abs(s - 111.6) / 111.6 < 0.08, `SD of developers' means ${s.toFixed(1)} ms`);
});

test('keystroke intervals average the configured mean; pauses add what they should', () => {
  const rng = new Random(2);
  const all: number[] = [];
  const withPauses: number[] = [];
  const paused: TypingParams = { ...TYPING_DEFAULTS, pauseProb: 0.1, linePauseProb: 0, pauseMeanMs: 1000 };
  for (let d = 0; d < 2000; d++) {
    const t = new Typist(NO_PAUSES, rng);
    for (let k = 0; k < 50; k++) all.push(t.nextDelayMs('x'));
    const p = new Typist(paused, rng);
    for (let k = 0; k < 50; k++) withPauses.push(p.nextDelayMs('x'));
  }
  const m = mean(all);
  assert.ok(Math.abs(m - 238.66) / 238.66 < 0.03, `mean IKI ${m.toFixed(1)} ms`);
  assert.ok(Math.min(...all) >= 10, 'no interval under 10 ms');
  // 10% of keys add a pause of mean 1000 ms: +100 ms on average.
  const extra = mean(withPauses) - m;
  assert.ok(Math.abs(extra - 100) < 15, `pauses add ${extra.toFixed(1)} ms per key`);
});

test('a newline is where thinking pauses happen', () => {
  const params: TypingParams = { ...TYPING_DEFAULTS, pauseProb: 0, linePauseProb: 1, pauseMeanMs: 2000 };
  const t = new Typist(params, new Random(3));
  const inLine = mean(Array.from({ length: 500 }, () => t.nextDelayMs('a')));
  const atEnd = mean(Array.from({ length: 500 }, () => t.nextDelayMs('\n')));
  assert.ok(
    atEnd - inLine > 1500,
    `after a newline ${atEnd.toFixed(0)} ms, inside a line ${inLine.toFixed(0)} ms`,
  );
});

test('lognormal draws have the asked mean and SD', () => {
  const rng = new Random(4);
  const xs = Array.from({ length: 50_000 }, () => rng.lognormal(500, 250));
  assert.ok(Math.abs(mean(xs) - 500) < 10, `mean ${mean(xs)}`);
  assert.ok(Math.abs(sd(xs) - 250) < 15, `sd ${sd(xs)}`);
  assert.ok(xs.every((x) => x > 0));
});

test('the default corpus is the package’s own compiled sources; blank lines are never a start', () => {
  const corpus = loadCorpus();
  assert.ok(corpus.files.length > 20, `${corpus.files.length} files`);
  assert.ok(corpus.files.every((f) => f.path.endsWith('.js') && !f.path.endsWith('.d.ts')));
  assert.deepEqual(typeableLineStarts('a\n\n  \nb\nc'), [0, 6, 8]);
});

test('a corpus directory without source files is a usage problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-corpus-'));
  mkdirSync(join(dir, 'node_modules'));
  writeFileSync(join(dir, 'node_modules', 'x.js'), 'a\nb\nc\nd\n');
  writeFileSync(join(dir, 'notes.txt'), 'a\nb\nc\nd\n');
  assert.throws(() => loadCorpus(dir), CorpusError);
  assert.throws(() => loadCorpus(join(dir, 'missing')), /no such directory/);
  writeFileSync(join(dir, 'main.py'), 'import os\n\ndef f():\n    return 1\n');
  const corpus = loadCorpus(dir);
  assert.deepEqual(
    corpus.files.map((f) => [f.path, f.language]),
    [['main.py', 'python']],
  );
});
