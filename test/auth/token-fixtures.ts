import type { Identity } from '../../src/auth/identity.js';
import { KeyRing, type ResolvedSigningKey } from '../../src/auth/token/key-ring.js';
import { mintToken, type MintedToken } from '../../src/auth/token/mint.js';

/** Secrets long enough for the ring (≥ 32 bytes); distinct per key id. */
export const SECRET_A = 'secret-A-0123456789abcdef0123456789abcdef';
export const SECRET_B = 'secret-B-fedcba9876543210fedcba9876543210';

export const NOW_S = 1_800_000_000;
export const SKEW_S = 30;
export const LIFETIME_S = 1800;

export const ALICE: Identity = {
  uid: 'alice@example.com',
  login: 'alice',
  sku: 'copilot_enterprise_seat',
  org: 'acme',
};

export function keyA(retired = false): ResolvedSigningKey {
  return retired ? { id: 'key-a', retired: true } : { id: 'key-a', retired: false, secret: SECRET_A };
}
export function keyB(retired = false): ResolvedSigningKey {
  return retired ? { id: 'key-b', retired: true } : { id: 'key-b', retired: false, secret: SECRET_B };
}

/** A ring of the given keys. */
export function ring(...keys: ResolvedSigningKey[]): KeyRing {
  return new KeyRing(keys);
}

/** A token for an identity from a ring, at NOW_S unless told otherwise. */
export function mint(r: KeyRing, identity: Identity = ALICE, nowS = NOW_S): MintedToken {
  return mintToken({
    ring: r,
    identity,
    lifetimeS: LIFETIME_S,
    nowS,
    proxyEp: 'gw.example.com:8443',
    flags: { chat: '1', st: 'dotcom' },
  });
}
