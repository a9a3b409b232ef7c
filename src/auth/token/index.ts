/** The gateway token: format, keys, minting, verification, inspection. Import from here. */
export { extractBearer, type BearerFault } from './bearer.js';
export { MAX_TOKEN_FIELDS, MAX_TOKEN_LENGTH, MIN_SECRET_BYTES, RESERVED_KEYS } from './format.js';
export { decodeValue, encodeValue } from './encoding.js';
export { inspectToken, type InspectedField, type InspectOptions, type TokenInspection } from './inspect.js';
export { KeyRing, keyRingFromConfig, type KeyStatus, type ResolvedSigningKey } from './key-ring.js';
export { assertTokenFlags, mintToken, type MintedToken, type MintOptions } from './mint.js';
export {
  parseToken,
  type MalformedToken,
  type ParsedToken,
  type ParseResult,
  type TokenClaims,
} from './parse.js';
export {
  NEVER_REVOKED,
  TokenVerifier,
  type RevocationCheck,
  type TokenErrorCode,
  type TokenFault,
  type TokenVerifierOptions,
  type VerifyResult,
} from './verify.js';
