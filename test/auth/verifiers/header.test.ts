import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createVerifier } from '../../../src/auth/verifiers/factory.js';
import { credentialFromHeader, MAX_CREDENTIAL_LENGTH } from '../../../src/auth/verifiers/verifier.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    return err.code;
  }
  return 'no error';
}

describe('credentialFromHeader', () => {
  it('accepts the Copilot `token` scheme and `Bearer`, case-insensitively, trimmed', () => {
    assert.equal(credentialFromHeader('token gho_abc'), 'gho_abc');
    assert.equal(credentialFromHeader('Bearer gw_xyz'), 'gw_xyz');
    assert.equal(credentialFromHeader('TOKEN   gho_abc  '), 'gho_abc');
    assert.equal(credentialFromHeader('  bearer\tey.J.w '), 'ey.J.w');
  });

  it('refuses an absent header, an empty credential and other schemes as GW_CREDENTIAL_MISSING', () => {
    for (const h of [
      undefined,
      '',
      '   ',
      'token',
      'token   ',
      'Bearer',
      'Basic dXNlcjpwYXNz',
      'gho_abc',
      'tokengho_abc',
    ])
      assert.equal(
        codeOf(() => credentialFromHeader(h)),
        'GW_CREDENTIAL_MISSING',
        String(h),
      );
  });

  it('refuses an over-long credential without quoting it', () => {
    const long = 'x'.repeat(MAX_CREDENTIAL_LENGTH + 1);
    assert.equal(credentialFromHeader(`token ${long.slice(1)}`).length, MAX_CREDENTIAL_LENGTH);
    try {
      credentialFromHeader(`token ${long}`);
      assert.fail('expected a throw');
    } catch (err) {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'GW_CREDENTIAL_INVALID');
      assert.ok(!err.message.includes(long) && !JSON.stringify(err).includes(long));
    }
  });

  it('returns exactly the credential for any scheme spelling (property)', () => {
    const credential = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,60}[\x21-\x7e])?$/);
    const scheme = fc.constantFrom('token', 'Token', 'TOKEN', 'bearer', 'Bearer', 'BEARER', 'tOkEn');
    fc.assert(
      fc.property(scheme, fc.constantFrom(' ', '  ', '\t'), credential, (s, sp, c) => {
        assert.equal(credentialFromHeader(`${s}${sp}${c}`), c);
      }),
    );
  });
});

describe('createVerifier', () => {
  it('builds the verifier the config names', async () => {
    const s = await createVerifier({
      type: 'static',
      users: [{ uid: 'u', sku: 's', apiKeySha256: 'a'.repeat(64), disabled: false }],
    });
    assert.equal(s.kind, 'static');
    const o = await createVerifier({
      type: 'oidc',
      issuer: 'https://idp.example',
      audience: 'ghostwire',
      jwksUrl: 'https://idp.example/jwks',
      claims: { uid: 'sub', login: 'preferred_username' },
      defaultSku: 'copilot_enterprise_seat',
      timeoutMs: 1000,
    });
    assert.equal(o.kind, 'oidc');
    const g = await createVerifier({
      type: 'github',
      apiBaseUrl: 'https://api.github.com',
      cacheTtlS: 60,
      allowedOrgs: [],
      sku: 'copilot_enterprise_seat',
      timeoutMs: 1000,
      disabledLogins: [],
    });
    assert.equal(g.kind, 'github');
    g.close?.();
  });
});
