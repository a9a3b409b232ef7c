import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StopMatcher } from '../../src/simulator/stop.js';

test('a stop string inside one token cuts the text before it', () => {
  const m = new StopMatcher(['\n']);
  assert.deepEqual(m.push('abc'), { text: 'abc', stopped: false });
  assert.deepEqual(m.push(';\n'), { text: ';', stopped: true });
});

test('a stop string split across tokens is held back, never emitted', () => {
  // Pins down: Copilot's stop "\n\n\n" arrives as separate newline tokens.
  const m = new StopMatcher(['\n\n\n', '\n```']);
  assert.deepEqual(m.push('x\n'), { text: 'x', stopped: false });
  assert.deepEqual(m.push('\n'), { text: '', stopped: false });
  assert.deepEqual(m.push('\n'), { text: '', stopped: true });
});

test('held text is released when it turns out not to be a stop', () => {
  const m = new StopMatcher(['\n```']);
  assert.deepEqual(m.push('a\n'), { text: 'a', stopped: false });
  assert.deepEqual(m.push('b'), { text: '\nb', stopped: false });
  assert.deepEqual(m.push('\n`'), { text: '', stopped: false });
  assert.equal(m.flush(), '\n`');
});

test('the earliest of several stop strings wins; empty stops are ignored', () => {
  const m = new StopMatcher(['', 'end', ';']);
  assert.deepEqual(m.push('a;b end'), { text: 'a', stopped: true });
});
