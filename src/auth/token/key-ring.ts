import { createSecretKey, type KeyObject } from 'node:crypto';
import type { AuthConfig } from '../../config/schema.js';
import { resolveSecret } from '../../config/secrets.js';
import { MIN_SECRET_BYTES } from './format.js';

/** A signing key with its secret already read. A retired key needs no secret: it is only remembered by id. */
export type ResolvedSigningKey =
  | { readonly id: string; readonly retired: false; readonly secret: string }
  | { readonly id: string; readonly retired: true; readonly secret?: string };

/** Where a key id stands in the ring. */
export type KeyStatus = 'signing' | 'verifying' | 'retired' | 'unknown';

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * The HMAC keys of one configuration, immutable. The last key not retired signs; every key not
 * retired verifies. Rotation builds a new ring from the reloaded config and swaps it into the
 * verifier, so a token stays valid for as long as its key is listed and not retired.
 *
 * Secrets are held only as KeyObjects in private fields: logging or JSON-encoding a ring shows ids.
 */
export class KeyRing {
  /** The id written as `kid` into new tokens. */
  readonly signingKeyId: string;
  readonly #signingKey: KeyObject;
  readonly #verifying: ReadonlyMap<string, KeyObject>;
  readonly #retired: ReadonlySet<string>;

  /** Builds a ring; throws at start, naming the key id (never the secret), on a short secret, a bad or duplicate id, or no usable key. */
  constructor(keys: readonly ResolvedSigningKey[]) {
    const verifying = new Map<string, KeyObject>();
    const retired = new Set<string>();
    let signer: { id: string; key: KeyObject } | undefined;
    for (const k of keys) {
      if (!KEY_ID.test(k.id))
        throw new Error(`signing key id ${JSON.stringify(k.id)}: expected 1-32 letters, digits, - or _`);
      if (verifying.has(k.id) || retired.has(k.id)) throw new Error(`signing key "${k.id}" is listed twice`);
      if (k.retired) {
        retired.add(k.id);
        continue;
      }
      const bytes = Buffer.from(k.secret, 'utf8');
      // Only the shortfall is reported: the secret's length is also something not to log.
      if (bytes.length < MIN_SECRET_BYTES)
        throw new Error(
          `signing key "${k.id}": the secret is shorter than ${MIN_SECRET_BYTES} bytes (generate one with: openssl rand -hex 32)`,
        );
      const key = createSecretKey(bytes);
      verifying.set(k.id, key);
      signer = { id: k.id, key };
    }
    if (signer === undefined)
      throw new Error('no signing key that is not retired: at least one is needed to sign tokens');
    this.signingKeyId = signer.id;
    this.#signingKey = signer.key;
    this.#verifying = verifying;
    this.#retired = retired;
  }

  /** The key new tokens are signed with. */
  get signingKey(): KeyObject {
    return this.#signingKey;
  }

  /** The key that verifies tokens carrying this kid, or undefined if it is unknown or retired. */
  verificationKey(kid: string): KeyObject | undefined {
    return this.#verifying.get(kid);
  }

  /** Whether the kid signs, only verifies, is retired, or is not listed at all. */
  status(kid: string): KeyStatus {
    if (kid === this.signingKeyId) return 'signing';
    if (this.#verifying.has(kid)) return 'verifying';
    return this.#retired.has(kid) ? 'retired' : 'unknown';
  }

  /** Ids of the keys that verify, in config order. */
  get verifyingKeyIds(): readonly string[] {
    return [...this.#verifying.keys()];
  }

  /** Ids only, so a ring that ends up in a log or a JSON dump shows nothing secret. */
  toJSON(): { signingKeyId: string; verifying: readonly string[]; retired: readonly string[] } {
    return { signingKeyId: this.signingKeyId, verifying: this.verifyingKeyIds, retired: [...this.#retired] };
  }
}

/** Resolves the configured signing keys' secrets ({ env } / { file } / literal) and builds the ring; throws a startup error naming the key. */
export function keyRingFromConfig(auth: AuthConfig): KeyRing {
  return new KeyRing(
    auth.signingKeys.map((k, i): ResolvedSigningKey => {
      // A retired key's secret is never read, so its env var or file may already be gone.
      if (k.retired) return { id: k.id, retired: true };
      return {
        id: k.id,
        retired: false,
        secret: resolveSecret(k.secret, `auth.signingKeys[${i}] (${k.id})`),
      };
    }),
  );
}
