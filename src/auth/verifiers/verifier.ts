import type { VerifierConfig } from '../../config/schema.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Identity } from '../identity.js';

/** The config of each verifier type, narrowed from the schema's discriminated union. */
export type StaticVerifierConfig = Extract<VerifierConfig, { type: 'static' }>;
export type StaticUser = StaticVerifierConfig['users'][number];
export type OidcVerifierConfig = Extract<VerifierConfig, { type: 'oidc' }>;
export type GithubVerifierConfig = Extract<VerifierConfig, { type: 'github' }>;

/**
 * Checks the long-lived credential a client presents at token exchange and says who it belongs
 * to. One implementation per identity source; the exchange endpoint only sees this interface.
 */
export interface CredentialVerifier {
  readonly kind: 'static' | 'oidc' | 'github';
  /** Resolves the identity for a long-lived credential, or throws a GatewayError (GW_CREDENTIAL_INVALID, GW_USER_DISABLED, GW_AUTH_UNAVAILABLE). */
  verify(credential: string, signal: AbortSignal): Promise<Identity>;
  close?(): void;
}

/**
 * Longest credential accepted, in characters. Real ones are far shorter (GitHub OAuth tokens ~40,
 * API keys ~50, IdP JWTs 1–3 KiB); the bound keeps a hostile header from costing a hash or a JWT
 * parse of arbitrary size.
 */
export const MAX_CREDENTIAL_LENGTH = 8192;

// Copilot clients send `token <cred>`; other clients and curl users send `Bearer <cred>`. The
// scheme is case-insensitive (RFC 9110 §11.1).
const AUTHORIZATION = /^(?:token|bearer)[ \t]+(.*)$/i;

/** Extracts the credential from an `Authorization: token X` or `Bearer X` header; throws GW_CREDENTIAL_MISSING otherwise. */
export function credentialFromHeader(authorization: string | undefined): string {
  if (authorization === undefined) throw new GatewayError('GW_CREDENTIAL_MISSING');
  const m = AUTHORIZATION.exec(authorization.trim());
  const credential = m?.[1]?.trim() ?? '';
  if (credential === '') throw new GatewayError('GW_CREDENTIAL_MISSING');
  if (credential.length > MAX_CREDENTIAL_LENGTH)
    throw new GatewayError('GW_CREDENTIAL_INVALID', {
      detail: `The credential is longer than ${MAX_CREDENTIAL_LENGTH} characters.`,
    });
  return credential;
}

/**
 * The error to reject with when the caller's signal fires: its reason when that is an Error (the
 * gateway aborts with a GatewayError such as GW_CLIENT_CLOSED, which the edge maps), otherwise a
 * generic client-closed error.
 */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new GatewayError('GW_CLIENT_CLOSED');
}

/**
 * Settles with `work`, or rejects as soon as `signal` fires. The work itself is not cancelled:
 * callers use this where the work is shared (a JWKS fetch, a coalesced GitHub call) and another
 * waiter may still want its result.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new GatewayError('GW_INTERNAL', { cause: err }));
      },
    );
  });
}
