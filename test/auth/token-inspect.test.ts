import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspectToken } from '../../src/auth/token/inspect.js';
import { ALICE, NOW_S, SECRET_A, SECRET_B, SKEW_S, keyA, keyB, mint, ring } from './token-fixtures.js';

describe('token inspect', () => {
  it('a valid token: fields decoded, key standing, time left, verdict ok', () => {
    const r = ring(keyA(), keyB());
    const { token, expiresAt } = mint(r);
    const info = inspectToken(token, r, NOW_S, { clockSkewS: SKEW_S });
    assert.deepEqual(info.verdict, { ok: true });
    assert.equal(info.kid, 'key-b');
    assert.equal(info.keyStatus, 'signing');
    assert.equal(info.expiresInS, expiresAt - NOW_S);
    assert.equal(info.claims?.uid, ALICE.uid);
    assert.equal(info.lengthBytes, token.length);
    const pe = info.fields.find((f) => f.key === 'proxy-ep');
    assert.deepEqual(pe, { key: 'proxy-ep', raw: 'gw.example.com%3A8443', value: 'gw.example.com:8443' });
  });

  it('never shows a secret, whatever the verdict', () => {
    const r = ring(keyA(), keyB());
    for (const raw of [mint(r).token, 'garbage', `kid=key-a:${'0'.repeat(64)}`]) {
      const text = JSON.stringify(inspectToken(raw, r, NOW_S));
      assert.ok(!text.includes(SECRET_A) && !text.includes(SECRET_B));
    }
  });

  it('a token signed with a retired key: fields shown, reason names the retired key', () => {
    const { token } = mint(ring(keyA()));
    const info = inspectToken(token, ring(keyA(true), keyB()), NOW_S);
    assert.equal(info.verdict.ok, false);
    assert.ok(!info.verdict.ok && info.verdict.code === 'GW_TOKEN_UNKNOWN_KEY');
    assert.ok(!info.verdict.ok && /key "key-a" is retired/.test(info.verdict.reason));
    assert.equal(info.keyStatus, 'retired');
    assert.equal(info.claims?.uid, ALICE.uid, 'a well-formed token still shows its claims');
  });

  it('an expired token says by how much', () => {
    const r = ring(keyA());
    const { token, expiresAt } = mint(r);
    const info = inspectToken(token, r, expiresAt + 100, { clockSkewS: SKEW_S });
    assert.ok(!info.verdict.ok && info.verdict.code === 'GW_TOKEN_EXPIRED');
    assert.ok(
      !info.verdict.ok && /expired 100 s ago \(clock skew allowance 30 s\)/.test(info.verdict.reason),
    );
    assert.equal(info.expiresInS, -100);
  });

  it('a revoked token says so', () => {
    const r = ring(keyA());
    const { token } = mint(r);
    const info = inspectToken(token, r, NOW_S, { revocation: { isRevoked: () => true } });
    assert.ok(!info.verdict.ok && info.verdict.code === 'GW_TOKEN_REVOKED');
  });

  it('a malformed token still lists what it says, with the specific reason', () => {
    const r = ring(keyA());
    const { token } = mint(r);
    const info = inspectToken(token.replace('uid=', 'uid=x;uid='), r, NOW_S);
    assert.ok(!info.verdict.ok && info.verdict.code === 'GW_TOKEN_MALFORMED');
    assert.ok(!info.verdict.ok && info.verdict.reason === 'field "uid" appears twice');
    assert.equal(info.claims, undefined);
    assert.equal(info.fields.filter((f) => f.key === 'uid').length, 2);
    assert.equal(info.kid, 'key-a');

    const junk = inspectToken('not a token at all', r, NOW_S);
    assert.ok(!junk.verdict.ok && junk.verdict.code === 'GW_TOKEN_MALFORMED');
    assert.equal(junk.macHex, undefined);
    assert.deepEqual(junk.fields, [{ key: 'not a token at all', raw: '', value: '' }]);
  });

  it('a pasted megabyte is refused and bounded', () => {
    const info = inspectToken(`a=${'x;'.repeat(500_000)}`, ring(keyA()), NOW_S);
    assert.ok(!info.verdict.ok);
    assert.ok(info.fields.length <= 64);
  });
});
