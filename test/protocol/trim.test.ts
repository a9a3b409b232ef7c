// Pins down Copilot's trim_by_indentation as the gateway applies it: a block's completion ends
// before the first later line indented less than the block.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IndentScanner, IndentTrimmer, indentTrimOf } from '../../src/protocol/trim.js';

function trimmed(nextIndent: number | undefined, pieces: string[]): { text: string; stopped: boolean } {
  const t = new IndentTrimmer(nextIndent);
  let text = '';
  for (const p of pieces) text += t.push(p);
  if (!t.stopped) text += t.flush();
  return { text, stopped: t.stopped };
}

const BLOCK = 'x) {\n    return 1;\n  }\n}\n';

describe('IndentTrimmer (exact)', () => {
  it('ends before the line that closes the block (next_indent given)', () => {
    assert.deepEqual(trimmed(4, [BLOCK]), { text: 'x) {\n    return 1;', stopped: true });
  });
  it('without next_indent, the first full line sets the block indentation', () => {
    assert.deepEqual(trimmed(undefined, [BLOCK]), { text: 'x) {\n    return 1;', stopped: true });
  });
  it('the rest of the current line is never cut; blank lines never end a block', () => {
    assert.deepEqual(trimmed(8, ['done\n\n        more\n']), {
      text: 'done\n\n        more\n',
      stopped: false,
    });
  });
  it('gives the same answer however the text is split', () => {
    const whole = trimmed(4, [BLOCK]);
    for (let i = 1; i < BLOCK.length; i++)
      for (let j = i; j < BLOCK.length; j++)
        assert.deepEqual(
          trimmed(4, [BLOCK.slice(0, i), BLOCK.slice(i, j), BLOCK.slice(j)]),
          whole,
          `${i},${j}`,
        );
  });
});

describe('IndentScanner (watching)', () => {
  it('says where to cut: before the newline that starts the closing line', () => {
    const s = new IndentScanner(4);
    assert.equal(s.scan('x) {\n    return 1;'), -1);
    assert.equal(s.scan('\n  }'), 0);
  });
  it('blank lines before the closing line are cut with it', () => {
    const s = new IndentScanner(4);
    assert.equal(s.scan('a\n    b\n\n\n}'), 'a\n    b'.length);
  });
  it('cuts inside the piece when the newline is in it', () => {
    const s = new IndentScanner(4);
    assert.equal(s.scan('x) {\n    return 1;\n  }'), 'x) {\n    return 1;'.length);
  });
});

describe('indentTrimOf', () => {
  it('reads Copilot extra: on only with trim_by_indentation true; next_indent when a whole number', () => {
    assert.equal(indentTrimOf(undefined), undefined);
    assert.equal(indentTrimOf({ trim_by_indentation: false }), undefined);
    assert.deepEqual(indentTrimOf({ trim_by_indentation: true, next_indent: 4 }), { nextIndent: 4 });
    assert.deepEqual(indentTrimOf({ trim_by_indentation: true, next_indent: '4' }), {
      nextIndent: undefined,
    });
  });
});
