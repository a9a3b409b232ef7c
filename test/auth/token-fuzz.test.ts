import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { extractBearer } from '../../src/auth/token/bearer.js';
import { inspectToken } from '../../src/auth/token/inspect.js';
import { TokenVerifier } from '../../src/auth/token/verify.js';
import { ALICE, NOW_S, SKEW_S, keyA, mint, ring } from './token-fixtures.js';

// The verifier faces whatever arrives in an Authorization header: it must never throw, and
// nothing but the exact token the gateway minted may verify.

const R = ring(keyA());
const V = new TokenVerifier({ ring: R, clockSkewS: SKEW_S });
const VALID = mint(R, { ...ALICE, org: 'Acme; Ünï' }).token;

/** verify() must return, not throw; returns whether it verified. */
function verifies(raw: string): boolean {
  let ok = false;
  assert.doesNotThrow(() => {
    ok = V.verify(raw, NOW_S).ok;
  });
  return ok;
}

const TOKEN_CHARS = fc.constantFrom(...'abcdef0123456789;:=%-_kidtuxpABCDEF \t\u00e9\u0000');

/** One edit to a string. */
type Mutation = (s: string) => string;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 0xffff })).map(([at, code]): Mutation => (s) => {
    const i = at % s.length;
    return s.slice(0, i) + String.fromCharCode(code) + s.slice(i + 1);
  }),
  fc.tuple(fc.nat(), fc.nat(7)).map(([at, bit]): Mutation => (s) => {
    const i = at % s.length;
    return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << bit)) + s.slice(i + 1);
  }),
  fc.tuple(fc.nat(), TOKEN_CHARS).map(([at, ch]): Mutation => (s) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + ch + s.slice(i);
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 8 })).map(([at, n]): Mutation => (s) => {
    const i = at % s.length;
    return s.slice(0, i) + s.slice(i + n);
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Mutation => (s) => {
    const [fields = '', mac = ''] = s.split(':');
    const fs = fields.split(';');
    const i = a % fs.length;
    const j = b % fs.length;
    [fs[i], fs[j]] = [fs[j] as string, fs[i] as string];
    return `${fs.join(';')}:${mac}`;
  }),
  fc.nat().map((a): Mutation => (s) => {
    const [fields = '', mac = ''] = s.split(':');
    const fs = fields.split(';');
    fs.splice(a % fs.length, 0, fs[a % fs.length] as string);
    return `${fs.join(';')}:${mac}`;
  }),
);

describe('fuzz: no input throws, nothing forged verifies', () => {
  it('the valid token itself verifies (the fuzz below would be vacuous otherwise)', () => {
    assert.equal(verifies(VALID), true);
  });

  it('random strings: never throw, never verify', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.string({ unit: TOKEN_CHARS, maxLength: 300 }),
          fc.string({ unit: 'grapheme-ascii', minLength: 60, maxLength: 3000 }),
        ),
        (s) => {
          assert.equal(verifies(s), false);
          assert.doesNotThrow(() => extractBearer(`Bearer ${s}`));
        },
      ),
      { numRuns: 6000, seed: 0x70c3 },
    );
  });

  it('mutations of a valid token (flip, insert, delete, swap and duplicate fields): only the original verifies', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (edits) => {
        const mutated = edits.reduce((s, edit) => edit(s), VALID);
        assert.equal(verifies(mutated), mutated === VALID);
      }),
      { numRuns: 6000, seed: 0x70c4 },
    );
  });

  it('inspect never throws either', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (edits) => {
        const mutated = edits.reduce((s, edit) => edit(s), VALID);
        assert.doesNotThrow(() => inspectToken(mutated, R, NOW_S));
      }),
      { numRuns: 1000, seed: 0x70c5 },
    );
  });
});
