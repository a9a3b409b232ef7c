/** A request with no usable token in its Authorization header. */
export interface BearerFault {
  readonly ok: false;
  readonly code: 'GW_TOKEN_MISSING';
  readonly reason: string;
}

const NO_HEADER: BearerFault = Object.freeze({
  ok: false,
  code: 'GW_TOKEN_MISSING',
  reason: 'no Authorization header',
});
const OTHER_SCHEME: BearerFault = Object.freeze({
  ok: false,
  code: 'GW_TOKEN_MISSING',
  reason: 'Authorization scheme is not Bearer',
});
const EMPTY: BearerFault = Object.freeze({
  ok: false,
  code: 'GW_TOKEN_MISSING',
  reason: 'Authorization header carries no token',
});

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** True if header[at, at+word.length) equals the lowercase ASCII word, ignoring case. */
function schemeIs(header: string, at: number, word: string): boolean {
  if (header.length - at < word.length) return false;
  for (let i = 0; i < word.length; i++) {
    // | 0x20 folds A-Z onto a-z; word holds only letters, so no other character can match by accident.
    if ((header.charCodeAt(at + i) | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Takes the token out of an Authorization header: `Bearer <token>`, or `token <token>` (the form
 * Copilot clients use for credentials, accepted so a client that sends its gateway token that way
 * still works), scheme case-insensitive, spaces/tabs around trimmed. Anything else, or nothing, is
 * GW_TOKEN_MISSING. The token itself is not looked at; verify() decides if it is well-formed.
 */
export function extractBearer(authorization: string | undefined): string | BearerFault {
  if (authorization === undefined) return NO_HEADER;
  const n = authorization.length;
  let start = 0;
  while (start < n && isSpace(authorization.charCodeAt(start))) start++;
  let schemeLen: number;
  if (schemeIs(authorization, start, 'bearer')) schemeLen = 6;
  else if (schemeIs(authorization, start, 'token')) schemeLen = 5;
  else return start === n ? NO_HEADER : OTHER_SCHEME;
  let i = start + schemeLen;
  // The scheme must be a whole word: `Bearerxyz` is some other scheme.
  if (i < n && !isSpace(authorization.charCodeAt(i))) return OTHER_SCHEME;
  while (i < n && isSpace(authorization.charCodeAt(i))) i++;
  let end = n;
  while (end > i && isSpace(authorization.charCodeAt(end - 1))) end--;
  if (end === i) return EMPTY;
  return authorization.slice(i, end);
}
