import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Identity } from '../identity.js';
import { untilAborted, type CredentialVerifier, type OidcVerifierConfig } from './verifier.js';

/**
 * Signature algorithms accepted: asymmetric only. An HS* token would be checked against a "secret"
 * the IdP publishes in its JWKS (or a public key misread as one: the classic alg-confusion attack);
 * `none` is not a signature at all. jose refuses both before it asks for a key.
 */
export const OIDC_ALGORITHMS: readonly string[] = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

/** Retry-After hint when the IdP's key set cannot be fetched: long enough for a blip to pass. */
const UNAVAILABLE_RETRY_AFTER_S = 5;

/** Tuning not in the config file; tests shorten the JWKS cooldown. */
export interface OidcVerifierOptions {
  /**
   * Least time between two JWKS fetches caused by an unknown `kid` (jose's cooldownDuration).
   * Bounds how often forged tokens with random kids can make the gateway hit the IdP. Default 30 s.
   */
  readonly jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is fetched again (jose's cacheMaxAge). Default 10 min. */
  readonly jwksMaxAgeMs?: number;
  /** Leeway for exp/nbf/iat against the IdP's clock, in seconds. Default 30. */
  readonly clockToleranceS?: number;
}

// Errors the key lookup raises because of the token itself (its kid or alg matches no key). Anything
// else from the lookup comes from fetching or parsing the JWKS: the IdP's fault, not the client's.
function isTokenKeyError(err: unknown): boolean {
  return (
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys ||
    err instanceof errors.JOSENotSupported
  );
}

/** A short, secret-free reason for a JWKS failure: jose's code, or the socket error's. */
function jwksFailureCode(err: unknown): string {
  if (err instanceof errors.JOSEError) return err.code;
  const cause: unknown = err instanceof Error ? err.cause : undefined;
  if (typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string')
    return cause.code;
  return err instanceof Error ? err.name : 'error';
}

/**
 * The first string of a claim: a string as is, an array's first string element (groups, orgs and
 * roles are often arrays), a number as decimal (some IdPs issue numeric subject ids).
 */
function claimString(payload: JWTPayload, name: string): string | undefined {
  // Claim names are looked up as given, never split on dots: namespaced claims such as
  // `https://example.com/org` (Auth0 requires them) contain dots themselves.
  const v: unknown = payload[name];
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (Array.isArray(v)) {
    const first: unknown = v.find((x) => typeof x === 'string' && x !== '');
    return typeof first === 'string' ? first : undefined;
  }
  return undefined;
}

/** A JWT issued by an OpenID Connect identity provider, verified against its published JWKS. */
export class OidcVerifier implements CredentialVerifier {
  readonly kind = 'oidc';
  readonly #cfg: OidcVerifierConfig;
  readonly #getKey: JWTVerifyGetKey;
  readonly #clockToleranceS: number;

  constructor(cfg: OidcVerifierConfig, opts: OidcVerifierOptions = {}) {
    this.#cfg = cfg;
    this.#clockToleranceS = opts.clockToleranceS ?? 30;
    // One remote set per verifier: jose caches the keys, coalesces concurrent fetches and refetches
    // when a token names a kid it has not seen (key rotation at the IdP), at most once per cooldown.
    const remote = createRemoteJWKSet(new URL(cfg.jwksUrl), {
      timeoutDuration: cfg.timeoutMs,
      ...(opts.jwksCooldownMs !== undefined && { cooldownDuration: opts.jwksCooldownMs }),
      ...(opts.jwksMaxAgeMs !== undefined && { cacheMaxAge: opts.jwksMaxAgeMs }),
      headers: { 'user-agent': 'ghostwire' },
    });
    this.#getKey = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        if (isTokenKeyError(err)) throw err;
        throw new GatewayError('GW_AUTH_UNAVAILABLE', {
          detail: `The identity provider's key set could not be fetched (${jwksFailureCode(err)}).`,
          retryAfterS: UNAVAILABLE_RETRY_AFTER_S,
          cause: err,
        });
      }
    };
  }

  /** Verifies the JWT's signature, issuer, audience and lifetime, then maps its claims to an identity. */
  verify(credential: string, signal: AbortSignal): Promise<Identity> {
    // jose takes no AbortSignal. A caller that goes away stops waiting; the JWKS fetch, if any,
    // finishes for the benefit of the next token (it is bounded by timeoutMs anyway).
    return untilAborted(this.#verify(credential), signal);
  }

  async #verify(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#getKey, {
        issuer: this.#cfg.issuer,
        audience: this.#cfg.audience,
        algorithms: [...OIDC_ALGORITHMS],
        // A JWT without exp would be a credential that never expires; refuse it.
        requiredClaims: ['exp'],
        clockTolerance: this.#clockToleranceS,
      }));
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw invalidToken(err);
    }
    return this.#identity(payload);
  }

  #identity(payload: JWTPayload): Identity {
    const { claims, defaultSku } = this.#cfg;
    const uid = claimString(payload, claims.uid);
    if (uid === undefined)
      throw new GatewayError('GW_CREDENTIAL_INVALID', {
        detail: `The token has no usable "${claims.uid}" claim.`,
      });
    return Object.freeze({
      uid,
      login: claimString(payload, claims.login) ?? uid,
      sku: (claims.sku === undefined ? undefined : claimString(payload, claims.sku)) ?? defaultSku,
      org: claims.org === undefined ? undefined : claimString(payload, claims.org),
    });
  }
}

/**
 * GW_CREDENTIAL_INVALID with jose's error code (and the failing claim) as detail. jose's error is
 * not kept as cause: its claim errors carry the whole payload, which a logger would print.
 */
function invalidToken(err: unknown): GatewayError {
  if (err instanceof errors.JWTClaimValidationFailed || err instanceof errors.JWTExpired)
    return new GatewayError('GW_CREDENTIAL_INVALID', {
      detail: `${err.code}: "${err.claim}" ${err.reason}.`,
    });
  if (err instanceof errors.JOSEError)
    return new GatewayError('GW_CREDENTIAL_INVALID', { detail: `${err.code}.` });
  // Not a jose error (e.g. WebCrypto refusing a key): still the token's problem as far as the
  // client can tell. Keep the cause for operators; it holds no token.
  return new GatewayError('GW_CREDENTIAL_INVALID', {
    detail: 'The token could not be verified.',
    cause: err,
  });
}

/** A verifier for JWTs from the configured OpenID Connect issuer. */
export function createOidcVerifier(cfg: OidcVerifierConfig, opts: OidcVerifierOptions = {}): OidcVerifier {
  return new OidcVerifier(cfg, opts);
}
