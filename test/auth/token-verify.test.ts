import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NEVER_REVOKED, TokenVerifier, type RevocationCheck } from '../../src/auth/token/verify.js';
import { mintToken } from '../../src/auth/token/mint.js';
import { ALICE, LIFETIME_S, NOW_S, SKEW_S, keyA, keyB, mint, ring } from './token-fixtures.js';

function verifier(r = ring(keyA()), revocation: RevocationCheck = NEVER_REVOKED): TokenVerifier {
  return new TokenVerifier({ ring: r, clockSkewS: SKEW_S, revocation });
}

/** The code a refused token gets, or 'ok'. */
function outcome(v: TokenVerifier, raw: string, nowS = NOW_S): string {
  const r = v.verify(raw, nowS);
  return r.ok ? 'ok' : r.code;
}

describe('token verification', () => {
  it('round trip: a minted token verifies and gives back the identity, flags and proxy-ep', () => {
    const r = ring(keyA());
    const minted = mint(r);
    const res = verifier(r).verify(minted.token, NOW_S);
    assert.ok(res.ok, JSON.stringify(res));
    assert.equal(res.claims.tid, minted.tid);
    assert.equal(res.claims.uid, ALICE.uid);
    assert.equal(res.claims.sku, ALICE.sku);
    assert.equal(res.claims.org, ALICE.org);
    assert.equal(res.claims.kid, 'key-a');
    assert.equal(res.claims.exp, NOW_S + LIFETIME_S);
    assert.equal(minted.expiresAt, NOW_S + LIFETIME_S);
    assert.equal(res.claims.proxyEp, 'gw.example.com:8443');
    assert.deepEqual(
      [...res.claims.flags],
      [
        ['chat', '1'],
        ['st', 'dotcom'],
      ],
    );
  });

  it('the wire shape is Copilot v2: k=v fields, one colon, 64 lowercase hex', () => {
    const { token, tid } = mint(ring(keyA()));
    assert.match(token, /^tid=[^;:]+(;[a-z0-9-]+=[^;:=]*)+:[0-9a-f]{64}$/);
    assert.ok(token.startsWith(`tid=${tid};`));
    assert.equal(token.split(':').length, 2);
    assert.ok(token.includes(';proxy-ep=gw.example.com%3A8443;'), 'the port colon is escaped');
  });

  it('values from identity providers with separators or non-ASCII round-trip percent-encoded', () => {
    const r = ring(keyA());
    const odd = { uid: 'x;y=z:w%20 ü 🐱', login: 'o', sku: 'a b', org: 'Ünïcode Org' };
    const { token } = mint(r, odd);
    assert.match(token, /^[\x21-\x7e]+$/, 'printable ASCII only');
    assert.equal(token.split(':').length, 2);
    const res = verifier(r).verify(token, NOW_S);
    assert.ok(res.ok, JSON.stringify(res));
    assert.equal(res.claims.uid, odd.uid);
    assert.equal(res.claims.sku, odd.sku);
    assert.equal(res.claims.org, odd.org);
  });

  it('a user without an org gets no ol field and org undefined', () => {
    const r = ring(keyA());
    const { token } = mint(r, { ...ALICE, org: undefined });
    assert.ok(!token.includes('ol='));
    const res = verifier(r).verify(token, NOW_S);
    assert.ok(res.ok);
    assert.equal(res.claims.org, undefined);
  });

  it('a forged MAC is a bad signature, whichever digit changed', () => {
    const r = ring(keyA());
    const { token } = mint(r);
    const colon = token.indexOf(':');
    for (const at of [colon + 1, colon + 32, token.length - 1]) {
      const c = token[at] === '0' ? '1' : '0';
      assert.equal(
        outcome(verifier(r), token.slice(0, at) + c + token.slice(at + 1)),
        'GW_TOKEN_BAD_SIGNATURE',
      );
    }
  });

  it('changing a field without re-signing is a bad signature', () => {
    const r = ring(keyA());
    const { token } = mint(r);
    assert.equal(outcome(verifier(r), token.replace('uid=alice', 'uid=mallory')), 'GW_TOKEN_BAD_SIGNATURE');
    assert.equal(outcome(verifier(r), token.replace(/exp=\d+/, 'exp=9999999999')), 'GW_TOKEN_BAD_SIGNATURE');
  });

  it('a token signed with another secret under a known kid is a bad signature', () => {
    const other = ring({ id: 'key-a', retired: false, secret: 'another-secret-of-at-least-32-bytes!!' });
    assert.equal(outcome(verifier(ring(keyA())), mint(other).token), 'GW_TOKEN_BAD_SIGNATURE');
  });

  it('every proper prefix of a valid token is refused, and none throws', () => {
    const r = ring(keyA());
    const v = verifier(r);
    const { token } = mint(r);
    for (let n = 0; n < token.length; n++) {
      const res = v.verify(token.slice(0, n), NOW_S);
      assert.equal(res.ok, false, `prefix of length ${n} verified`);
      if (!res.ok) assert.equal(res.code, 'GW_TOKEN_MALFORMED', `prefix ${n}: ${res.code}`);
    }
  });

  it('an unknown kid is refused as unknown key', () => {
    const { token } = mint(ring(keyB()));
    assert.equal(outcome(verifier(ring(keyA())), token), 'GW_TOKEN_UNKNOWN_KEY');
  });

  it('a retired kid is refused as unknown key', () => {
    const { token } = mint(ring(keyA()));
    assert.equal(outcome(verifier(ring(keyA(true), keyB())), token), 'GW_TOKEN_UNKNOWN_KEY');
  });

  it('malformed wins over unknown key, unknown key over bad signature', () => {
    const { token } = mint(ring(keyB()));
    const v = verifier(ring(keyA()));
    assert.equal(outcome(v, token.replace('tid=', 'tid=x;tid=')), 'GW_TOKEN_MALFORMED');
    assert.equal(outcome(v, token.slice(0, -1) + (token.endsWith('0') ? '1' : '0')), 'GW_TOKEN_UNKNOWN_KEY');
  });

  it('clock skew: expired by exactly the skew is accepted, by skew + 1 s refused', () => {
    const r = ring(keyA());
    const v = verifier(r);
    const { token, expiresAt } = mint(r);
    assert.equal(outcome(v, token, expiresAt - 1), 'ok');
    assert.equal(outcome(v, token, expiresAt), 'ok');
    assert.equal(outcome(v, token, expiresAt + SKEW_S), 'ok');
    assert.equal(outcome(v, token, expiresAt + SKEW_S + 1), 'GW_TOKEN_EXPIRED');
    assert.equal(
      outcome(new TokenVerifier({ ring: r, clockSkewS: 0 }), token, expiresAt + 1),
      'GW_TOKEN_EXPIRED',
    );
    // A clock bug must not turn into tokens that never expire.
    assert.equal(outcome(v, token, Number.NaN), 'GW_TOKEN_EXPIRED');
  });

  it('bad signature wins over expired', () => {
    const r = ring(keyA());
    const { token, expiresAt } = mint(r);
    const forged = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
    assert.equal(outcome(verifier(r), forged, expiresAt + 10_000), 'GW_TOKEN_BAD_SIGNATURE');
  });

  it('revocation by token id or by user id refuses the token; other tokens pass', () => {
    const r = ring(keyA());
    const t1 = mint(r);
    const t2 = mint(r);
    const bob = mint(r, { ...ALICE, uid: 'bob' });
    const calls: Array<[string, string]> = [];
    const revoked = new Set([`tid:${t1.tid}`, 'uid:bob']);
    const fake: RevocationCheck = {
      isRevoked(tid, uid) {
        calls.push([tid, uid]);
        return revoked.has(`tid:${tid}`) || revoked.has(`uid:${uid}`);
      },
    };
    const v = verifier(r, fake);
    assert.equal(outcome(v, t1.token), 'GW_TOKEN_REVOKED');
    assert.equal(outcome(v, t2.token), 'ok');
    assert.equal(outcome(v, bob.token), 'GW_TOKEN_REVOKED');
    assert.deepEqual(calls[0], [t1.tid, ALICE.uid]);
    // Expired tokens are refused as expired before revocation is asked.
    calls.length = 0;
    assert.equal(outcome(v, t1.token, t1.expiresAt + SKEW_S + 1), 'GW_TOKEN_EXPIRED');
    assert.equal(calls.length, 0);
    v.setRevocation(NEVER_REVOKED);
    assert.equal(outcome(v, t1.token), 'ok');
  });

  it('a duplicated field is malformed even when it repeats the same value', () => {
    const r = ring(keyA());
    const { token } = mint(r);
    const [fields, mac] = token.split(':') as [string, string];
    for (const f of fields.split(';')) {
      assert.equal(outcome(verifier(r), `${fields};${f}:${mac}`), 'GW_TOKEN_MALFORMED', f);
    }
  });

  it('an oversized token is malformed', () => {
    const r = ring(keyA());
    const { token } = mint(r);
    const big = `pad=${'x'.repeat(2100)};${token}`;
    assert.equal(outcome(verifier(r), big), 'GW_TOKEN_MALFORMED');
    assert.equal(outcome(verifier(r), 'a'.repeat(1_000_000)), 'GW_TOKEN_MALFORMED');
  });

  it('mint refuses what verify would refuse: a token over the size limit', () => {
    assert.throws(() => mint(ring(keyA()), { ...ALICE, uid: 'ü'.repeat(400) }), /over the 2048-byte limit/);
  });

  describe('rotation', () => {
    it('A-tokens survive A→[A,B]; B then signs; both verify; A-tokens die when A is retired', () => {
      const v = verifier(ring(keyA()));
      const fromA = mint(v.keyRing);
      assert.equal(outcome(v, fromA.token), 'ok');

      v.setKeyRing(ring(keyA(), keyB()));
      assert.equal(v.keyRing.signingKeyId, 'key-b', 'the newest key signs');
      const fromB = mint(v.keyRing);
      assert.match(fromB.token, /;kid=key-b:/);
      assert.equal(outcome(v, fromA.token), 'ok', 'a token from a second before rotation stays valid');
      assert.equal(outcome(v, fromB.token), 'ok');

      v.setKeyRing(ring(keyA(true), keyB()));
      assert.equal(outcome(v, fromA.token), 'GW_TOKEN_UNKNOWN_KEY');
      assert.equal(outcome(v, fromB.token), 'ok');
    });

    it('a key listed after the signer but retired does not sign', () => {
      const r = ring(keyA(), keyB(true));
      assert.equal(r.signingKeyId, 'key-a');
      assert.equal(r.status('key-b'), 'retired');
    });
  });

  it('mint: tid, lifetime and flags are checked', () => {
    const r = ring(keyA());
    const base = { ring: r, identity: ALICE, lifetimeS: 60, nowS: NOW_S, proxyEp: 'gw', flags: {} };
    assert.equal(mintToken({ ...base, tid: 'fixed-id' }).tid, 'fixed-id');
    assert.notEqual(mintToken(base).tid, mintToken(base).tid);
    assert.equal(mintToken({ ...base, nowS: NOW_S + 0.9 }).expiresAt, NOW_S + 60);
    assert.throws(() => mintToken({ ...base, lifetimeS: 0 }), /lifetime/);
    assert.throws(() => mintToken({ ...base, flags: { uid: 'root' } }), /reserved/);
    assert.throws(() => mintToken({ ...base, flags: { Chat: '1' } }), /keys are/);
    assert.throws(() => mintToken({ ...base, tid: '' }), /must not be empty/);
  });
});

// The verified-token cache must never change a verdict: a hit still expires, is still revoked,
// and a key-ring change (rotation, retirement) empties it.
describe('token verification: the verified-token cache changes no verdict', () => {
  it('a cached token still expires, is still revoked, and dies with its retired key', () => {
    const r = ring(keyA());
    const { token, tid } = mint(r);
    const revoked = new Set<string>();
    const v = verifier(r, { isRevoked: (t) => revoked.has(t) });
    assert.equal(outcome(v, token), 'ok');
    assert.equal(outcome(v, token), 'ok', 'second call: from the cache');
    assert.equal(outcome(v, token, NOW_S + LIFETIME_S + SKEW_S), 'ok', 'at the skew edge');
    assert.equal(outcome(v, token, NOW_S + LIFETIME_S + SKEW_S + 1), 'GW_TOKEN_EXPIRED');
    assert.equal(outcome(v, token), 'ok', 'an expired verdict is not cached either');
    revoked.add(tid);
    assert.equal(outcome(v, token), 'GW_TOKEN_REVOKED');
    revoked.delete(tid);
    v.setKeyRing(ring(keyA(true), keyB()));
    assert.equal(outcome(v, token), 'GW_TOKEN_UNKNOWN_KEY');
  });

  it('a token one character away from a cached one is judged on its own', () => {
    const r = ring(keyA());
    const { token } = mint(r);
    const v = verifier(r);
    assert.equal(outcome(v, token), 'ok');
    const last = token.at(-1) === '0' ? '1' : '0';
    assert.equal(outcome(v, token.slice(0, -1) + last), 'GW_TOKEN_BAD_SIGNATURE');
    assert.equal(outcome(v, token + ' '), 'GW_TOKEN_MALFORMED');
  });

  it('stays bounded: past cacheSize it starts over, and cacheSize 0 turns it off', () => {
    const r = ring(keyA());
    const v = new TokenVerifier({ ring: r, clockSkewS: SKEW_S, cacheSize: 2 });
    const tokens = [1, 2, 3].map((i) => mint(r, { ...ALICE, uid: `u${i}` }).token);
    for (const t of tokens) {
      assert.equal(outcome(v, t), 'ok');
      assert.ok(v.cachedTokens <= 2, `cache grew to ${v.cachedTokens}`);
    }
    assert.equal(v.cachedTokens, 1, 'full at the third token: started over with it alone');
    const off = new TokenVerifier({ ring: r, clockSkewS: SKEW_S, cacheSize: 0 });
    assert.equal(outcome(off, tokens[0] as string), 'ok');
    assert.equal(outcome(off, tokens[0] as string), 'ok');
    assert.equal(off.cachedTokens, 0);
    v.setKeyRing(ring(keyA()));
    assert.equal(v.cachedTokens, 0, 'a ring change empties it');
  });
});
