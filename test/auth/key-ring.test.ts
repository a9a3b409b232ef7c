import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { KeyRing, keyRingFromConfig } from '../../src/auth/token/key-ring.js';
import { AuthConfig } from '../../src/config/schema.js';
import { SECRET_A, SECRET_B, keyA, keyB } from './token-fixtures.js';

// AuthConfig requires a verifier in mode tokens; these tests are about keys only.
const ANY_VERIFIER = { type: 'static', users: [{ uid: 'u', apiKeySha256: '0'.repeat(64) }] };

describe('key ring', () => {
  it('the last key not retired signs; every key not retired verifies', () => {
    const r = new KeyRing([keyA(), keyB()]);
    assert.equal(r.signingKeyId, 'key-b');
    assert.equal(r.status('key-b'), 'signing');
    assert.equal(r.status('key-a'), 'verifying');
    assert.equal(r.status('nope'), 'unknown');
    assert.ok(r.verificationKey('key-a'));
    assert.ok(r.verificationKey('key-b'));
    assert.equal(r.verificationKey('nope'), undefined);
    const retiredA = new KeyRing([keyA(true), keyB()]);
    assert.equal(retiredA.verificationKey('key-a'), undefined);
    assert.equal(retiredA.status('key-a'), 'retired');
  });

  it('a short secret is a startup error that names the key and not the secret', () => {
    const short = 'too-short-secret-31-bytes-long!';
    assert.equal(Buffer.byteLength(short), 31);
    assert.throws(
      () => new KeyRing([keyA(), { id: 'weak', retired: false, secret: short }]),
      (err: Error) =>
        err.message.includes('"weak"') && !err.message.includes(short) && /32 bytes/.test(err.message),
    );
    // Bytes, not characters: 16 two-byte characters are 32 bytes.
    assert.ok(new KeyRing([{ id: 'utf8', retired: false, secret: 'é'.repeat(16) }]));
  });

  it('refuses duplicate ids, bad ids and a ring with nothing to sign with', () => {
    assert.throws(() => new KeyRing([keyA(), keyA()]), /listed twice/);
    assert.throws(() => new KeyRing([keyA(), keyA(true)]), /listed twice/);
    assert.throws(() => new KeyRing([{ id: 'a:b', retired: false, secret: SECRET_A }]), /key id/);
    assert.throws(() => new KeyRing([]), /no signing key/);
    assert.throws(() => new KeyRing([keyA(true)]), /no signing key/);
  });

  it('logging or serialising a ring shows ids, never secrets', () => {
    const r = new KeyRing([keyA(), keyB()]);
    for (const text of [inspect(r, { depth: 10, showHidden: true }), JSON.stringify(r)]) {
      assert.ok(!text.includes(SECRET_A) && !text.includes(SECRET_B), text);
      assert.ok(!text.includes(Buffer.from(SECRET_A).toString('hex')), text);
    }
    assert.deepEqual(JSON.parse(JSON.stringify(r)), {
      signingKeyId: 'key-b',
      verifying: ['key-a', 'key-b'],
      retired: [],
    });
  });

  it('keyRingFromConfig resolves literal, env and file secrets; retired secrets are never read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-keys-'));
    try {
      writeFileSync(join(dir, 'k3'), `${SECRET_B}\n`);
      process.env.GW_TEST_SIGNING_KEY = SECRET_A;
      const auth = AuthConfig.parse({
        verifier: ANY_VERIFIER,
        signingKeys: [
          { id: 'old', secret: { env: 'GW_TEST_NOT_SET_ANYWHERE' }, retired: true },
          { id: 'k1', secret: 'literal-secret-0123456789-0123456789' },
          { id: 'k2', secret: { env: 'GW_TEST_SIGNING_KEY' } },
          { id: 'k3', secret: { file: join(dir, 'k3') } },
        ],
      });
      const r = keyRingFromConfig(auth);
      assert.equal(r.signingKeyId, 'k3');
      assert.deepEqual(r.verifyingKeyIds, ['k1', 'k2', 'k3']);
      assert.equal(r.status('old'), 'retired');
    } finally {
      delete process.env.GW_TEST_SIGNING_KEY;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keyRingFromConfig: a missing env var or a short secret names the key', () => {
    const missing = AuthConfig.parse({
      verifier: ANY_VERIFIER,
      signingKeys: [{ id: 'k1', secret: { env: 'GW_TEST_NOT_SET_ANYWHERE' } }],
    });
    assert.throws(
      () => keyRingFromConfig(missing),
      /auth\.signingKeys\[0\] \(k1\).*GW_TEST_NOT_SET_ANYWHERE/,
    );
    const short = AuthConfig.parse({
      verifier: ANY_VERIFIER,
      signingKeys: [{ id: 'k1', secret: 'short' }],
    });
    assert.throws(() => keyRingFromConfig(short), /signing key "k1"/);
  });
});
