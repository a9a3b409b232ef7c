import { createHash, randomBytes } from 'node:crypto';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Identity } from '../identity.js';
import type { CredentialVerifier, StaticUser } from './verifier.js';

/** Lowercase hex SHA-256 of an API key: the form `apiKeySha256` stores in the config file. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A fresh API key: `gw_` and 32 random bytes in base64url (256 bits, so a plain hash suffices to store it). */
export function generateApiKey(): string {
  return `gw_${randomBytes(32).toString('base64url')}`;
}

interface StaticEntry {
  readonly identity: Identity;
  readonly disabled: boolean;
}

/** API keys listed in the config file, stored there only as SHA-256 hashes. */
export class StaticVerifier implements CredentialVerifier {
  readonly kind = 'static';
  readonly #byDigest: ReadonlyMap<string, StaticEntry>;

  constructor(users: readonly StaticUser[]) {
    const byDigest = new Map<string, StaticEntry>();
    for (const u of users) {
      const clash = byDigest.get(u.apiKeySha256);
      // Two users sharing one key would make the identity depend on config order; refuse at start.
      // The message names the users, never the hash.
      if (clash !== undefined)
        throw new Error(
          `auth.verifier.users: users ${clash.identity.uid} and ${u.uid} have the same API key`,
        );
      byDigest.set(u.apiKeySha256, {
        identity: Object.freeze({ uid: u.uid, login: u.login ?? u.uid, sku: u.sku, org: u.org }),
        disabled: u.disabled,
      });
    }
    this.#byDigest = byDigest;
  }

  /** Hashes the credential and looks the digest up; disabled users are recognised and refused. */
  verify(credential: string, _signal: AbortSignal): Promise<Identity> {
    // A Map lookup compares strings with early exit, so its timing leaks how much of a stored key
    // matches. Keying by the SHA-256 of the secret makes that harmless: the attacker controls the
    // input, not its digest, and learning a prefix of a stored digest does not help find a key that
    // hashes to it. (Comparing raw keys this way would leak the key a byte at a time.) Keys are
    // 256-bit random, so a fast hash is enough; a slow KDF would only add per-exchange CPU.
    const entry = this.#byDigest.get(hashApiKey(credential));
    if (entry === undefined) return Promise.reject(new GatewayError('GW_CREDENTIAL_INVALID'));
    if (entry.disabled) return Promise.reject(new GatewayError('GW_USER_DISABLED'));
    return Promise.resolve(entry.identity);
  }
}

/** A verifier for the static users of the config file. */
export function createStaticVerifier(users: readonly StaticUser[]): StaticVerifier {
  return new StaticVerifier(users);
}
