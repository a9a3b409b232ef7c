import { createHmac, randomBytes } from 'node:crypto';
import type { Identity } from '../identity.js';
import { encodeValue } from './encoding.js';
import { KEY_PATTERN, MAX_TOKEN_FIELDS, MAX_TOKEN_LENGTH, RESERVED_KEYS } from './format.js';
import type { KeyRing } from './key-ring.js';

export interface MintOptions {
  readonly ring: KeyRing;
  readonly identity: Identity;
  /** Seconds from nowS until the token expires (auth.tokens.lifetimeS). */
  readonly lifetimeS: number;
  /** Unix seconds; fractions are dropped. */
  readonly nowS: number;
  /** host[:port] of the gateway the client should use, written as `proxy-ep`. */
  readonly proxyEp: string;
  /** Feature flags copied into the token (auth.tokens.flags). */
  readonly flags: Readonly<Record<string, string>>;
  /** Token id; default 16 random bytes, base64url. */
  readonly tid?: string;
}

export interface MintedToken {
  readonly token: string;
  readonly tid: string;
  /** Unix seconds; the token's `exp`. */
  readonly expiresAt: number;
}

/** Throws if a flag key is malformed or is one of the gateway's own keys; call once at config load to fail early. */
export function assertTokenFlags(flags: Readonly<Record<string, string>>): void {
  const keys = Object.keys(flags);
  for (const key of keys) {
    if (!KEY_PATTERN.test(key))
      throw new Error(
        `token flag ${JSON.stringify(key)}: keys are 1-32 of a-z, 0-9, - (not starting with -)`,
      );
    if (RESERVED_KEYS.has(key))
      throw new Error(`token flag "${key}" is reserved: the gateway writes that field itself`);
  }
  if (keys.length + RESERVED_KEYS.size > MAX_TOKEN_FIELDS)
    throw new Error(`too many token flags: at most ${MAX_TOKEN_FIELDS - RESERVED_KEYS.size}`);
}

/** Mints a signed gateway token for an identity with the ring's signing key. Throws only on bad input (flags, lifetime, an oversized token). */
export function mintToken(opts: MintOptions): MintedToken {
  const { ring, identity, lifetimeS, nowS, proxyEp, flags } = opts;
  if (!Number.isSafeInteger(lifetimeS) || lifetimeS < 1)
    throw new Error(`token lifetime must be a positive whole number of seconds`);
  if (!Number.isFinite(nowS) || nowS < 0) throw new Error('nowS must be unix seconds');
  assertTokenFlags(flags);
  const tid = opts.tid ?? randomBytes(16).toString('base64url');
  if (tid === '' || identity.uid === '' || identity.sku === '')
    throw new Error('tid, uid and sku must not be empty');
  const expiresAt = Math.floor(nowS) + lifetimeS;

  // Field order follows Copilot's tokens (tid first); kid last, next to the MAC it names.
  let signed = `tid=${encodeValue(tid)};uid=${encodeValue(identity.uid)}`;
  if (identity.org !== undefined) signed += `;ol=${encodeValue(identity.org)}`;
  signed += `;exp=${expiresAt};sku=${encodeValue(identity.sku)};proxy-ep=${encodeValue(proxyEp)}`;
  for (const key of Object.keys(flags)) signed += `;${key}=${encodeValue(flags[key] as string)}`;
  signed += `;kid=${ring.signingKeyId}`;

  const token = `${signed}:${createHmac('sha256', ring.signingKey).update(signed).digest('hex')}`;
  // A token the verifier would refuse as too long must fail here, at exchange, with the reason.
  if (token.length > MAX_TOKEN_LENGTH)
    throw new Error(
      `token would be ${token.length} bytes, over the ${MAX_TOKEN_LENGTH}-byte limit (uid, org or flags too long)`,
    );
  return { token, tid, expiresAt };
}
