import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { generateApiKey, hashApiKey, StaticVerifier } from '../../../src/auth/verifiers/static.js';
import type { StaticUser } from '../../../src/auth/verifiers/verifier.js';
import { NEVER, rejectsWith } from './helpers.js';

const ALICE_KEY = 'gw_alice-SECRET-key-0123456789';
const BOB_KEY = 'gw_bob-SECRET-key-9876543210';
const CAROL_KEY = 'gw_carol-SECRET-key-disabled';

const users: StaticUser[] = [
  {
    uid: 'alice',
    login: 'Alice A.',
    sku: 'copilot_for_business_seat',
    org: 'acme',
    apiKeySha256: hashApiKey(ALICE_KEY),
    disabled: false,
  },
  { uid: 'bob', sku: 'copilot_enterprise_seat', apiKeySha256: hashApiKey(BOB_KEY), disabled: false },
  { uid: 'carol', sku: 'copilot_enterprise_seat', apiKeySha256: hashApiKey(CAROL_KEY), disabled: true },
];

describe('hashApiKey / generateApiKey', () => {
  it('hashes as lowercase hex SHA-256 of the UTF-8 key (the form apiKeySha256 stores)', () => {
    assert.equal(hashApiKey('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.match(hashApiKey(generateApiKey()), /^[0-9a-f]{64}$/);
  });

  it('generates gw_ + 32 random bytes in base64url, different every time', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    assert.match(a, /^gw_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b);
    assert.equal(Buffer.from(a.slice(3), 'base64url').length, 32);
  });
});

describe('static verifier', () => {
  const v = new StaticVerifier(users);

  it('maps a known key to its user, with login defaulting to uid', async () => {
    assert.deepEqual(await v.verify(ALICE_KEY, NEVER), {
      uid: 'alice',
      login: 'Alice A.',
      sku: 'copilot_for_business_seat',
      org: 'acme',
    });
    assert.deepEqual(await v.verify(BOB_KEY, NEVER), {
      uid: 'bob',
      login: 'bob',
      sku: 'copilot_enterprise_seat',
      org: undefined,
    });
  });

  it('refuses a disabled user precisely (GW_USER_DISABLED), without quoting the key', async () => {
    await rejectsWith(v.verify(CAROL_KEY, NEVER), 'GW_USER_DISABLED', CAROL_KEY);
  });

  it('refuses an unknown key, and the stored hash itself, as GW_CREDENTIAL_INVALID', async () => {
    const wrong = 'gw_not-a-real-SECRET-key';
    await rejectsWith(v.verify(wrong, NEVER), 'GW_CREDENTIAL_INVALID', wrong);
    // Presenting the digest from the config file must not work: only the key hashes to it.
    const digest = hashApiKey(ALICE_KEY);
    await rejectsWith(v.verify(digest, NEVER), 'GW_CREDENTIAL_INVALID', digest);
    await rejectsWith(v.verify(`${ALICE_KEY} `, NEVER), 'GW_CREDENTIAL_INVALID', ALICE_KEY);
  });

  it('accepts no key but the configured ones (property)', async () => {
    // At least 8 characters, so that "not in the error message" is a meaningful check.
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 8, maxLength: 64 }), async (k) => {
        fc.pre(k !== ALICE_KEY && k !== BOB_KEY && k !== CAROL_KEY);
        await rejectsWith(v.verify(k, NEVER), 'GW_CREDENTIAL_INVALID', k);
      }),
    );
  });

  it('refuses two users with the same key at start, naming the users and not the hash', () => {
    const dup: StaticUser[] = [
      users[0] as StaticUser,
      { ...(users[1] as StaticUser), apiKeySha256: hashApiKey(ALICE_KEY) },
    ];
    assert.throws(
      () => new StaticVerifier(dup),
      (err: Error) =>
        err.message.includes('alice') &&
        err.message.includes('bob') &&
        !err.message.includes(hashApiKey(ALICE_KEY)),
    );
  });
});
