/**
 * The gateway token's wire format (Copilot "v2" shape): `k=v;k=v;...:<mac>`, where the MAC is
 * HMAC-SHA256 over everything before the single `:`, in lowercase hex. The limits below bound the
 * work one Authorization header can cause; they are far above what mintToken produces (~250 bytes).
 */

/** Longest token accepted, in bytes (every accepted character is ASCII, so also in characters). */
export const MAX_TOKEN_LENGTH = 2048;
/** Most `k=v` fields accepted in one token. */
export const MAX_TOKEN_FIELDS = 32;
/** Longest key; keys match KEY_PATTERN. */
export const MAX_KEY_LENGTH = 32;
/** HMAC-SHA256 digest, lowercase hex. */
export const MAC_HEX_LENGTH = 64;
/** Signing secrets shorter than this (in UTF-8 bytes) are refused at start: HMAC-SHA256's block strength. */
export const MIN_SECRET_BYTES = 32;

/** A field key: what Copilot's own keys (`tid`, `proxy-ep`, `8kp`) look like. */
export const KEY_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * Keys the gateway itself writes and reads. A configured feature flag may not reuse one, or it
 * would either be refused as a duplicate or silently change who the token is for.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([
  'tid',
  'uid',
  'exp',
  'sku',
  'kid',
  'proxy-ep',
  'ol',
]);
