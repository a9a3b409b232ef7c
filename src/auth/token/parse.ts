import { decodeCheckedValue, hexUpperValue, isLiteralValueChar } from './encoding.js';
import { MAC_HEX_LENGTH, MAX_KEY_LENGTH, MAX_TOKEN_FIELDS, MAX_TOKEN_LENGTH } from './format.js';

/** What a well-formed token says, values decoded. Nothing here is trusted until the MAC is checked. */
export interface TokenClaims {
  readonly tid: string;
  readonly uid: string;
  readonly sku: string;
  /** `ol`: the user's organisation, if the verifier gave one. */
  readonly org: string | undefined;
  readonly kid: string;
  /** Unix seconds. */
  readonly exp: number;
  /** `proxy-ep`: host[:port] the client was told to use; informational, not checked. */
  readonly proxyEp: string | undefined;
  /** Every field that is not one of the gateway's own (feature flags), key → decoded value, in token order. */
  readonly flags: ReadonlyMap<string, string>;
}

/** A token that parsed: its claims, the exact bytes the MAC covers, and the MAC as it was sent. */
export interface ParsedToken {
  readonly ok: true;
  readonly claims: TokenClaims;
  /** Everything before the `:`; the MAC input. */
  readonly signed: string;
  /** 64 lowercase hex characters. */
  readonly macHex: string;
}

/** Why a token is not well-formed. `reason` is a fixed phrase for logs and `token inspect`, never client input. */
export interface MalformedToken {
  readonly ok: false;
  readonly code: 'GW_TOKEN_MALFORMED';
  readonly reason: string;
}

export type ParseResult = ParsedToken | MalformedToken;

// One frozen object per reason: refusing garbage allocates nothing.
function malformed(reason: string): MalformedToken {
  return Object.freeze({ ok: false, code: 'GW_TOKEN_MALFORMED', reason });
}
const TOO_LONG = malformed(`longer than ${MAX_TOKEN_LENGTH} bytes`);
const NO_MAC = malformed("no ':' before a MAC");
const MANY_COLONS = malformed("more than one ':'");
const BAD_MAC = malformed(`MAC is not ${MAC_HEX_LENGTH} lowercase hex characters`);
const TOO_MANY_FIELDS = malformed(`more than ${MAX_TOKEN_FIELDS} fields`);
const EMPTY_KEY = malformed('a field has an empty key');
const BAD_KEY = malformed(
  `a key is not 1-${MAX_KEY_LENGTH} of a-z, 0-9, - (starting with a letter or digit)`,
);
const MISSING_EQUALS = malformed("a field has no '='");
const BAD_VALUE_CHAR = malformed("a value holds a character other than printable ASCII without ';' ':' '='");
const BAD_ESCAPE = malformed("a '%' in a value is not followed by two uppercase hex digits");
/** The reason given for a repeated field; `token inspect` replaces it with one that names the field. */
export const DUPLICATE_FIELD_REASON = 'a field appears twice';
const DUPLICATE = malformed(DUPLICATE_FIELD_REASON);
const BAD_EXP = malformed('exp is not a non-negative integer without leading zeros');
const EMPTY_REQUIRED = malformed('tid, uid, sku or kid is empty');
const MISSING_TID = malformed('missing field tid');
const MISSING_UID = malformed('missing field uid');
const MISSING_EXP = malformed('missing field exp');
const MISSING_SKU = malformed('missing field sku');
const MISSING_KID = malformed('missing field kid');

// Shared by every token without flags; typed read-only, so nobody adds to it.
const NO_FLAGS: ReadonlyMap<string, string> = new Map();

// Which of the gateway's own keys a field has; recognised without slicing the key out.
const K_FLAG = 0;
const K_TID = 1;
const K_UID = 2;
const K_EXP = 3;
const K_SKU = 4;
const K_KID = 5;
const K_OL = 6;
const K_PROXY_EP = 7;

/** Classifies raw[pos, pos+len) as one of the K_* keys. */
function knownKey(raw: string, pos: number, len: number): number {
  if (len === 3) {
    const a = raw.charCodeAt(pos);
    const b = raw.charCodeAt(pos + 1);
    const c = raw.charCodeAt(pos + 2);
    if (a === 0x74 && b === 0x69 && c === 0x64) return K_TID; // tid
    if (a === 0x75 && b === 0x69 && c === 0x64) return K_UID; // uid
    if (a === 0x65 && b === 0x78 && c === 0x70) return K_EXP; // exp
    if (a === 0x73 && b === 0x6b && c === 0x75) return K_SKU; // sku
    if (a === 0x6b && b === 0x69 && c === 0x64) return K_KID; // kid
    return K_FLAG;
  }
  if (len === 2) return raw.charCodeAt(pos) === 0x6f && raw.charCodeAt(pos + 1) === 0x6c ? K_OL : K_FLAG;
  if (len === 8) return raw.startsWith('proxy-ep', pos) ? K_PROXY_EP : K_FLAG;
  return K_FLAG;
}

/** 1 for a-z 0-9 (may start a key), 2 for `-` (may follow). */
const KEY_CHAR = new Uint8Array(128);
for (let c = 0x61; c <= 0x7a; c++) KEY_CHAR[c] = 1;
for (let c = 0x30; c <= 0x39; c++) KEY_CHAR[c] = 1;
KEY_CHAR[0x2d] = 2;

const SEMI = 0x3b;
const EQ = 0x3d;
const PCT = 0x25;

/** exp digits in raw[start, end) as a number, or -1; at most 15 digits keeps it a safe integer. */
function parseExp(raw: string, start: number, end: number): number {
  const len = end - start;
  if (len < 1 || len > 15) return -1;
  if (len > 1 && raw.charCodeAt(start) === 0x30) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = raw.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Parses a token strictly without checking its MAC. Never throws; the work is bounded by
 * MAX_TOKEN_LENGTH whatever the input. Runs on every request, hence one pass over the characters
 * and no split().
 */
export function parseToken(raw: string): ParseResult {
  const n = raw.length;
  if (n > MAX_TOKEN_LENGTH) return TOO_LONG;
  const colon = raw.indexOf(':');
  if (colon < 0) return NO_MAC;
  if (n - colon - 1 !== MAC_HEX_LENGTH) return raw.includes(':', colon + 1) ? MANY_COLONS : BAD_MAC;
  for (let i = colon + 1; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)))
      return c === 0x3a || raw.includes(':', i) ? MANY_COLONS : BAD_MAC;
  }

  let tid: string | undefined;
  let uid: string | undefined;
  let sku: string | undefined;
  let org: string | undefined;
  let kid: string | undefined;
  let proxyEp: string | undefined;
  let exp = -1;
  let flags: Map<string, string> | undefined;
  let count = 0;
  let pos = 0;
  for (;;) {
    if (++count > MAX_TOKEN_FIELDS) return TOO_MANY_FIELDS;
    let i = pos;
    let c = raw.charCodeAt(i);
    if (i === colon || c === EQ || c === SEMI) return EMPTY_KEY;
    if (c >= 128 || KEY_CHAR[c] !== 1) return BAD_KEY;
    for (i++; i < colon; i++) {
      c = raw.charCodeAt(i);
      if (c >= 128 || KEY_CHAR[c] === 0) break;
    }
    if (i - pos > MAX_KEY_LENGTH) return BAD_KEY;
    if (i === colon || c === SEMI) return MISSING_EQUALS;
    if (c !== EQ) return BAD_KEY;
    const keyEnd = i;
    const valueStart = i + 1;
    let escaped = false;
    for (i = valueStart; i < colon; i++) {
      c = raw.charCodeAt(i);
      if (c === SEMI) break;
      if (c === PCT) {
        // Escapes must be complete inside this value (i + 2 < colon keeps them off the MAC).
        if (
          i + 2 >= colon ||
          hexUpperValue(raw.charCodeAt(i + 1)) < 0 ||
          hexUpperValue(raw.charCodeAt(i + 2)) < 0
        )
          return BAD_ESCAPE;
        escaped = true;
        i += 2;
      } else if (!isLiteralValueChar(c)) {
        return BAD_VALUE_CHAR;
      }
    }
    const valueEnd = i;
    const kind = knownKey(raw, pos, keyEnd - pos);
    if (kind === K_EXP) {
      if (exp >= 0) return DUPLICATE;
      exp = parseExp(raw, valueStart, valueEnd);
      if (exp < 0) return BAD_EXP;
    } else {
      const value = escaped ? decodeCheckedValue(raw, valueStart, valueEnd) : raw.slice(valueStart, valueEnd);
      switch (kind) {
        case K_TID:
          if (tid !== undefined) return DUPLICATE;
          tid = value;
          break;
        case K_UID:
          if (uid !== undefined) return DUPLICATE;
          uid = value;
          break;
        case K_SKU:
          if (sku !== undefined) return DUPLICATE;
          sku = value;
          break;
        case K_KID:
          if (kid !== undefined) return DUPLICATE;
          kid = value;
          break;
        case K_OL:
          if (org !== undefined) return DUPLICATE;
          org = value;
          break;
        case K_PROXY_EP:
          if (proxyEp !== undefined) return DUPLICATE;
          proxyEp = value;
          break;
        default: {
          // A Map, not an object: keys such as `constructor` are plain keys, and it is much faster
          // to fill than a null-prototype object.
          const key = raw.slice(pos, keyEnd);
          flags ??= new Map();
          if (flags.has(key)) return DUPLICATE;
          flags.set(key, value);
        }
      }
    }
    if (valueEnd === colon) break;
    pos = valueEnd + 1;
  }

  if (tid === undefined) return MISSING_TID;
  if (uid === undefined) return MISSING_UID;
  if (exp < 0) return MISSING_EXP;
  if (sku === undefined) return MISSING_SKU;
  if (kid === undefined) return MISSING_KID;
  if (tid === '' || uid === '' || sku === '' || kid === '') return EMPTY_REQUIRED;
  return {
    ok: true,
    claims: { tid, uid, sku, org, kid, exp, proxyEp, flags: flags ?? NO_FLAGS },
    signed: raw.slice(0, colon),
    macHex: raw.slice(colon + 1),
  };
}
