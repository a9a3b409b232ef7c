import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractBearer } from '../../src/auth/token/bearer.js';

/** The token, or the fault's reason. */
function take(header: string | undefined): string {
  const r = extractBearer(header);
  return typeof r === 'string' ? `token:${r}` : `${r.code}: ${r.reason}`;
}

describe('Authorization header parsing', () => {
  it('Bearer and token schemes, any case, surrounding whitespace trimmed', () => {
    assert.equal(take('Bearer abc'), 'token:abc');
    assert.equal(take('bearer abc'), 'token:abc');
    assert.equal(take('BEARER abc'), 'token:abc');
    assert.equal(take('token abc'), 'token:abc');
    assert.equal(take('Token abc'), 'token:abc');
    assert.equal(take('  Bearer \t abc:def  '), 'token:abc:def');
  });

  it('no header, an empty one, or a scheme without a token is GW_TOKEN_MISSING', () => {
    assert.match(take(undefined), /^GW_TOKEN_MISSING: no Authorization/);
    assert.match(take(''), /^GW_TOKEN_MISSING: no Authorization/);
    assert.match(take('   '), /^GW_TOKEN_MISSING: no Authorization/);
    assert.match(take('Bearer'), /^GW_TOKEN_MISSING: .*no token/);
    assert.match(take('Bearer    '), /^GW_TOKEN_MISSING: .*no token/);
  });

  it('other schemes, or a scheme glued to the token, are GW_TOKEN_MISSING', () => {
    assert.match(take('Basic YWxhZGRpbjpvcGVuc2VzYW1l'), /not Bearer/);
    assert.match(take('Bearerabc'), /not Bearer/);
    assert.match(take('Bear abc'), /not Bearer/);
    assert.match(take('abc'), /not Bearer/);
  });

  it("the token is passed on as is (spaces inside are verify()'s to refuse)", () => {
    assert.equal(take('Bearer a b'), 'token:a b');
  });
});
