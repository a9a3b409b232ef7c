/**
 * Value encoding inside a token. A value may hold only printable ASCII other than `;`, `:` and
 * `=` (the separators), yet uids and orgs come from identity providers and may hold anything, and
 * `proxy-ep` holds `host:port`. Every value is therefore percent-encoded on mint: each UTF-8 byte
 * outside 0x21-0x7E, and `%`, `;`, `:`, `=`, becomes `%XX` (uppercase hex). Ordinary values (ids,
 * emails, `1`, `dotcom`) are unchanged, so tokens read like Copilot's. Decoding is the exact
 * inverse; a `%` not followed by two uppercase hex digits makes the token malformed.
 */

/** 1 for characters that may appear literally in a value (0x21-0x7E except `%`, `:`, `;`, `=`). */
const LITERAL = new Uint8Array(128);
for (let c = 0x21; c <= 0x7e; c++) LITERAL[c] = 1;
for (const ch of '%:;=') LITERAL[ch.charCodeAt(0)] = 0;

const HEX_UPPER = '0123456789ABCDEF';

/** Value of an uppercase hex digit's char code, or -1. */
export function hexUpperValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Whether the char code may stand literally in a value. */
export function isLiteralValueChar(c: number): boolean {
  return c < 128 && LITERAL[c] === 1;
}

/** Percent-encodes a value for a token; throws on a string that is not well-formed Unicode (a lone surrogate). */
export function encodeValue(value: string): string {
  let i = 0;
  while (i < value.length && isLiteralValueChar(value.charCodeAt(i))) i++;
  if (i === value.length) return value;
  const bytes = Buffer.from(value, 'utf8');
  // A lone surrogate becomes U+FFFD in UTF-8, so the token would carry a different value than asked.
  if (bytes.toString('utf8') !== value) throw new Error('token value is not well-formed Unicode');
  let out = '';
  for (const b of bytes) {
    out += isLiteralValueChar(b)
      ? String.fromCharCode(b)
      : '%' + (HEX_UPPER[b >> 4] as string) + (HEX_UPPER[b & 15] as string);
  }
  return out;
}

/**
 * Decodes raw[start, end), already checked to hold only literal characters and well-formed `%XX`
 * escapes. Bytes that are not valid UTF-8 become U+FFFD rather than throwing: the MAC is checked
 * over the encoded form, so only tokens this gateway minted (always valid UTF-8) get further.
 */
export function decodeCheckedValue(raw: string, start: number, end: number): string {
  // Usual case (`host%3Aport`): every escape is ASCII, so no Buffer and no UTF-8 decoding is needed.
  let out = '';
  let from = start;
  for (let i = start; i < end; i++) {
    if (raw.charCodeAt(i) !== 0x25) continue;
    const b = (hexUpperValue(raw.charCodeAt(i + 1)) << 4) | hexUpperValue(raw.charCodeAt(i + 2));
    if (b >= 0x80) return decodeUtf8(raw, start, end);
    out += raw.slice(from, i) + String.fromCharCode(b);
    i += 2;
    from = i + 1;
  }
  return out + raw.slice(from, end);
}

function decodeUtf8(raw: string, start: number, end: number): string {
  const bytes = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      bytes[n++] = (hexUpperValue(raw.charCodeAt(i + 1)) << 4) | hexUpperValue(raw.charCodeAt(i + 2));
      i += 2;
    } else {
      bytes[n++] = c;
    }
  }
  return bytes.toString('utf8', 0, n);
}

/** Decodes a value, or returns undefined if it holds a character or escape a token may not hold. */
export function decodeValue(value: string): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25) {
      if (hexUpperValue(value.charCodeAt(i + 1)) < 0 || hexUpperValue(value.charCodeAt(i + 2)) < 0)
        return undefined;
      i += 2;
    } else if (!isLiteralValueChar(c)) {
      return undefined;
    }
  }
  return value.includes('%') ? decodeCheckedValue(value, 0, value.length) : value;
}
