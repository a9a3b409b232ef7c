import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CodeGenerator } from '../../src/simulator/generator.js';
import { codeContext, CONTEXT_WINDOW_CHARS } from '../../src/simulator/prompt.js';

function generate(
  context: string,
  tokens: number,
  opts: { seed?: number; temperature?: number; choice?: number } = {},
) {
  const g = new CodeGenerator({
    context,
    seed: opts.seed ?? 0,
    choiceIndex: opts.choice ?? 0,
    temperature: opts.temperature ?? 0,
  });
  return Array.from({ length: tokens }, () => g.next());
}

test('tokens are small pieces: 1 to 6 characters, one character class each', () => {
  const tokens = generate('function add(a: number, b: number) {\n  return a + b;\n}\n', 300, {
    temperature: 1,
  });
  for (const t of tokens) {
    assert.ok(t.length >= 1 && t.length <= 6, JSON.stringify(t));
    assert.ok(/^(?:[\w$]+|[ \t]+|\r?\n\n?|[^\w$\s]{1,2})$/.test(t), `mixed token ${JSON.stringify(t)}`);
  }
});

test('continues a numbered sequence instead of repeating it', () => {
  const text = generate('const x1 = 1;\nconst x2 = 2;\nconst x', 30).join('');
  assert.ok(text.startsWith('3 = 3;\nconst x4 = 4;\n'), JSON.stringify(text));
});

test('copies structure from earlier in the prompt', () => {
  const prompt = 'def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n\ndef mul(a, b):\n';
  const text = generate(prompt, 10).join('');
  assert.match(text, /^ {4}return a/);
});

test('same context and seed give the same text; another seed or choice may differ, still code-like', () => {
  const prompt = 'import os\nimport sys\n\ndef main():\n    print(os.getcwd())\n    return 0\n\n';
  assert.deepEqual(generate(prompt, 80, { temperature: 0.8 }), generate(prompt, 80, { temperature: 0.8 }));
  const other = generate(prompt, 80, { temperature: 0.8, choice: 1 }).join('');
  assert.ok(other.length > 0);
});

test('with nothing to continue it writes plausible lines of the prompt language', () => {
  const go = generate('package main\n\nfunc main() {\n', 40).join('');
  assert.match(go, /:=|err|defer|func|fmt|log|return|for/);
  const empty = generate('', 20).join('');
  assert.match(empty, /[;(){}=]/);
});

test('a FIM prompt is continued from its prefix, not its sentinel tokens', () => {
  assert.equal(codeContext('<fim_prefix>let a = 1;<fim_suffix>}<fim_middle>'), 'let a = 1;');
  assert.equal(codeContext('<|fim_prefix|>p<|fim_suffix|>s<|fim_middle|>'), 'p');
  assert.equal(codeContext('<PRE> p <SUF>s <MID>'), 'p');
  assert.equal(codeContext('[SUFFIX]s[PREFIX]p'), 'p');
  assert.equal(codeContext('plain prompt'), 'plain prompt');
  assert.equal(codeContext('y'.repeat(CONTEXT_WINDOW_CHARS * 3)).length, CONTEXT_WINDOW_CHARS);
});

test('a long prompt costs a bounded amount per token', () => {
  const big = 'let value = compute(input);\n'.repeat(20_000); // ~560 KB
  const started = performance.now();
  generate(codeContext(big), 2000);
  assert.ok(performance.now() - started < 1000, 'generation must only scan the context window');
});
