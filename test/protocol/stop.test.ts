// Pins down the gateway's stop-sequence handling for one choice: exact (hold back a possible
// start of a stop until the next piece decides) and watching (nothing held, cut where found).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { StopFilter, StopScanner } from '../../src/protocol/stop.js';

/** What a filter lets out for `pieces`, and whether it stopped. */
function filtered(stops: string[], pieces: string[]): { text: string; stopped: boolean } {
  const f = new StopFilter(stops);
  let text = '';
  for (const p of pieces) text += f.push(p);
  if (!f.stopped) text += f.flush();
  return { text, stopped: f.stopped };
}

/** The reference: the text up to the first stop anywhere in the whole string. */
function reference(stops: string[], whole: string): { text: string; stopped: boolean } {
  let cut = -1;
  for (const s of stops.filter((x) => x.length > 0)) {
    const i = whole.indexOf(s);
    if (i !== -1 && (cut === -1 || i < cut)) cut = i;
  }
  return cut === -1 ? { text: whole, stopped: false } : { text: whole.slice(0, cut), stopped: true };
}

describe('StopFilter (exact)', () => {
  it('a stop split over two pieces still stops, and nothing of it is sent', () => {
    assert.deepEqual(filtered(['\n\n\n'], ['a\n', '\n', '\nb']), { text: 'a', stopped: true });
    assert.deepEqual(filtered(['```'], ['x`', '`', '`y']), { text: 'x', stopped: true });
  });
  it('held-back text that is not a stop comes out with the next piece or at the end', () => {
    const f = new StopFilter(['\n\n']);
    assert.equal(f.push('a\n'), 'a');
    assert.equal(f.push('b'), '\nb');
    assert.equal(f.push('\n'), '');
    assert.equal(f.flush(), '\n');
  });
  it('a longer stop that starts earlier and is still incomplete wins over a shorter complete one', () => {
    // Found by the property test below: " " is complete in "é " but "é \n" began first.
    assert.deepEqual(filtered([' ', 'é \n'], ['é ', '\n']), { text: '', stopped: true });
    assert.deepEqual(filtered([' ', 'é \n'], ['é ', 'x']), { text: 'é', stopped: true });
  });
  it('the earliest of several stops wins; empty stops are ignored', () => {
    assert.deepEqual(filtered(['xyz', 'b', ''], ['aaxyzb']), { text: 'aa', stopped: true });
  });
  it('equals cutting the whole text at its first stop, however the text is split', () => {
    const alphabet = fc.constantFrom('a', 'b', '\n', '`', 'é', ' ');
    const str = fc.array(alphabet, { maxLength: 30 }).map((a) => a.join(''));
    fc.assert(
      fc.property(
        fc.array(
          fc.array(alphabet, { minLength: 1, maxLength: 4 }).map((a) => a.join('')),
          { maxLength: 3 },
        ),
        fc.array(str, { maxLength: 8 }),
        (stops, pieces) => {
          assert.deepEqual(filtered(stops, pieces), reference(stops, pieces.join('')));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('StopScanner (watching, nothing held)', () => {
  /** Pieces sent, as a pass-through would send them, cut where the scanner says. */
  function sent(stops: string[], pieces: string[]): { text: string; stopped: boolean } {
    const s = new StopScanner(stops);
    let text = '';
    for (const p of pieces) {
      const cut = s.scan(p);
      if (cut !== -1) return { text: text + p.slice(0, cut), stopped: true };
      text += p;
    }
    return { text, stopped: false };
  }

  it('finds a stop inside one piece and cuts before it', () => {
    assert.deepEqual(sent(['\n\n\n'], ['ab\n\n\ncd']), { text: 'ab', stopped: true });
  });
  it('finds a stop split over pieces; its beginning was already sent', () => {
    assert.deepEqual(sent(['\n\n\n'], ['a\n', '\n', '\nb']), { text: 'a\n\n', stopped: true });
  });
  it('stops exactly when the whole text holds a stop, and sends at most the stop beginning beyond the exact cut', () => {
    const alphabet = fc.constantFrom('a', '\n', '`');
    const str = fc.array(alphabet, { maxLength: 20 }).map((a) => a.join(''));
    fc.assert(
      fc.property(
        fc.array(
          fc.array(alphabet, { minLength: 1, maxLength: 3 }).map((a) => a.join('')),
          { minLength: 1, maxLength: 2 },
        ),
        fc.array(str, { maxLength: 6 }),
        (stops, pieces) => {
          const exact = reference(stops, pieces.join(''));
          const got = sent(stops, pieces);
          assert.equal(got.stopped, exact.stopped);
          assert.ok(got.text.startsWith(exact.text));
          const longest = Math.max(...stops.map((s) => s.length));
          assert.ok(got.text.length - exact.text.length < longest, JSON.stringify({ got, exact }));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
