import { decodeValue } from './encoding.js';
import { MAX_TOKEN_FIELDS, MAX_TOKEN_LENGTH } from './format.js';
import type { KeyRing, KeyStatus } from './key-ring.js';
import { DUPLICATE_FIELD_REASON, parseToken, type TokenClaims } from './parse.js';
import { NEVER_REVOKED, TokenVerifier, type RevocationCheck, type TokenErrorCode } from './verify.js';

/** One `k=v` field as written, with its value decoded when it can be. */
export interface InspectedField {
  readonly key: string;
  /** Decoded value; the raw text if it holds characters or escapes a token may not. */
  readonly value: string;
  /** The value exactly as in the token. */
  readonly raw: string;
}

/** What `ghostwire token inspect` shows: the fields, the key's standing and the verdict. Never a secret. */
export interface TokenInspection {
  readonly verdict:
    { readonly ok: true } | { readonly ok: false; readonly code: TokenErrorCode; readonly reason: string };
  /** Fields in token order, read leniently so a refused token still shows what it says (at most MAX_TOKEN_FIELDS * 2). */
  readonly fields: readonly InspectedField[];
  /** Set when the token is well-formed (even if it then fails on key, MAC, expiry or revocation). */
  readonly claims: TokenClaims | undefined;
  /** The MAC as sent (not a secret: it is part of the token). */
  readonly macHex: string | undefined;
  readonly kid: string | undefined;
  readonly keyStatus: KeyStatus | undefined;
  /** exp - nowS; negative once expired. */
  readonly expiresInS: number | undefined;
  readonly lengthBytes: number;
}

export interface InspectOptions {
  /** Pass auth.tokens.clockSkewS to judge as the gateway would; default 0, the strict reading. */
  readonly clockSkewS?: number;
  readonly revocation?: RevocationCheck;
}

/** Reads fields leniently for display; bounded, so a pasted megabyte shows its first fields only. */
function readFields(signed: string): InspectedField[] {
  const out: InspectedField[] = [];
  for (const part of signed.split(';', MAX_TOKEN_FIELDS * 2)) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const raw = eq < 0 ? '' : part.slice(eq + 1);
    out.push({ key, raw, value: decodeValue(raw) ?? raw });
  }
  return out;
}

/** The first key that appears a second time. */
function firstRepeatedKey(fields: readonly InspectedField[]): string | undefined {
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.key)) return f.key;
    seen.add(f.key);
  }
  return undefined;
}

/**
 * Decodes a token for an operator and says whether this ring would accept it at nowS, and if not
 * why; the fields are shown even when verification fails. Uses the same verifier as requests.
 */
export function inspectToken(
  raw: string,
  ring: KeyRing,
  nowS: number,
  opts: InspectOptions = {},
): TokenInspection {
  const verifier = new TokenVerifier({
    ring,
    clockSkewS: opts.clockSkewS ?? 0,
    revocation: opts.revocation ?? NEVER_REVOKED,
  });
  const result = verifier.verify(raw, nowS);
  const text = raw.length > MAX_TOKEN_LENGTH * 4 ? raw.slice(0, MAX_TOKEN_LENGTH * 4) : raw;
  const colon = text.indexOf(':');
  const fields = readFields(colon < 0 ? text : text.slice(0, colon));
  const kidText = fields.find((f) => f.key === 'kid')?.value;
  const expText = fields.find((f) => f.key === 'exp')?.raw;
  const exp = expText !== undefined && /^\d{1,15}$/.test(expText) ? Number(expText) : undefined;
  const parsed = parseToken(raw);
  let verdict: TokenInspection['verdict'] = { ok: true };
  if (!result.ok) {
    let reason = result.reason;
    const repeated = reason === DUPLICATE_FIELD_REASON ? firstRepeatedKey(fields) : undefined;
    // The hot path's reasons are fixed phrases; here there is time to name the field or key.
    if (repeated !== undefined) reason = `field "${repeated}" appears twice`;
    else if (result.code === 'GW_TOKEN_UNKNOWN_KEY' && kidText !== undefined)
      reason =
        ring.status(kidText) === 'retired'
          ? `key "${kidText}" is retired`
          : `key "${kidText}" is not in the key ring`;
    else if (result.code === 'GW_TOKEN_EXPIRED' && exp !== undefined)
      reason = `expired ${Math.floor(nowS - exp)} s ago (clock skew allowance ${opts.clockSkewS ?? 0} s)`;
    verdict = { ok: false, code: result.code, reason };
  }
  return {
    verdict,
    fields,
    claims: parsed.ok ? parsed.claims : undefined,
    macHex: colon < 0 ? undefined : text.slice(colon + 1),
    kid: kidText,
    keyStatus: kidText === undefined ? undefined : ring.status(kidText),
    expiresInS: exp === undefined ? undefined : exp - nowS,
    lengthBytes: Buffer.byteLength(raw, 'utf8'),
  };
}
