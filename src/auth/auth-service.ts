import type { KeyObject } from 'node:crypto';
import type { AuthConfig } from '../config/schema.js';
import { ConfigError } from '../config/errors.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { RequestContext } from '../proxy/context.js';
import type { RequestSignal } from '../proxy/request-signal.js';
import type { Identity } from './identity.js';
import { RevocationList } from './revocation/revocation-list.js';
import {
  assertTokenFlags,
  extractBearer,
  keyRingFromConfig,
  mintToken,
  TokenVerifier,
} from './token/index.js';
// Not the verifiers' and revocation's index files: those re-export modules (jose, ioredis) that
// are loaded only when configured.
import { createVerifier } from './verifiers/factory.js';
import type { CredentialVerifier } from './verifiers/verifier.js';

/** A freshly minted token and what the exchange endpoint tells the client about it. */
export interface IssuedToken {
  readonly token: string;
  readonly tokenId: string;
  /** Unix seconds. */
  readonly expiresAt: number;
  /** Seconds after which the client should exchange again. */
  readonly refreshIn: number;
}

/**
 * Everything auth, built once from `auth:` in the config: the key ring and token verifier (hot
 * path, synchronous, no I/O), the credential verifier (token exchange only), and the revocation
 * denylist. A reload swaps the ring, the token settings and the config part of the denylist in
 * place, so nothing that holds the service needs rebuilding and no valid token is refused.
 */
export class AuthService {
  readonly #tokens: TokenVerifier;
  readonly #revocation: RevocationList;
  #credentials: CredentialVerifier;
  #settings: AuthConfig['tokens'];

  private constructor(auth: AuthConfig, credentials: CredentialVerifier) {
    this.#revocation = new RevocationList(auth.revocation);
    this.#tokens = new TokenVerifier({
      ring: keyRingFromConfig(auth),
      clockSkewS: auth.tokens.clockSkewS,
      revocation: this.#revocation,
    });
    this.#credentials = credentials;
    this.#settings = auth.tokens;
  }

  /** Builds the service (throws a startup error naming a bad key or secret) and connects the shared denylist; undefined when auth.mode is none. */
  static async start(auth: AuthConfig): Promise<AuthService | undefined> {
    if (auth.mode === 'none') return undefined;
    if (auth.verifier === undefined) throw new Error('auth.verifier is required for auth.mode: tokens');
    let service: AuthService;
    try {
      assertTokenFlags(auth.tokens.flags);
      service = new AuthService(auth, await createVerifier(auth.verifier));
    } catch (err) {
      // Short or missing secrets, duplicate API keys: an operator's config problem, not a crash.
      throw new ConfigError('config', [
        { path: 'auth', message: err instanceof Error ? err.message : String(err) },
      ]);
    }
    await service.#revocation.start();
    return service;
  }

  /**
   * The completion path's gate: the bearer token must parse, carry a known kid, verify, be
   * unexpired and unrevoked. On success the identity is on the context; on failure, the error to send.
   */
  authenticate(authorization: string | undefined, ctx: RequestContext): GatewayError | undefined {
    const raw = extractBearer(authorization);
    if (typeof raw !== 'string') return new GatewayError(raw.code);
    const result = this.#tokens.verify(raw, Math.floor(Date.now() / 1000));
    if (!result.ok) return new GatewayError(result.code);
    const c = result.claims;
    ctx.identity = { uid: c.uid, sku: c.sku, org: c.org, tokenId: c.tid };
    return undefined;
  }

  /** Token exchange, step 1: who is this long-lived credential? Refuses disabled and revoked users. */
  async identify(credential: string, signal: RequestSignal): Promise<Identity> {
    const identity = await this.#credentials.verify(credential, signal.toAbortSignal());
    // A uid on the denylist gets no new tokens either: revoking a user cuts them off at once.
    if (this.#revocation.isRevoked('', identity.uid)) throw new GatewayError('GW_TOKEN_REVOKED');
    return identity;
  }

  /**
   * Token exchange, step 2: a token for this identity, naming `proxyUrl` (default: auth.tokens.publicUrl,
   * else `origin`) as the proxy its completions go to.
   */
  issue(identity: Identity, origin: string, proxyUrl?: string): IssuedToken {
    const s = this.#settings;
    let minted: ReturnType<typeof mintToken>;
    try {
      minted = mintToken({
        ring: this.#tokens.keyRing,
        identity,
        lifetimeS: s.lifetimeS,
        nowS: Date.now() / 1000,
        proxyEp: new URL(proxyUrl ?? s.publicUrl ?? origin).host,
        flags: s.flags,
      });
    } catch (err) {
      // An IdP claim too long for a 2 KiB token, or not encodable: the credential is unusable here.
      throw new GatewayError('GW_CREDENTIAL_INVALID', {
        detail: 'The identity it maps to cannot be put in a token (a claim is too long or not valid text).',
        cause: err,
      });
    }
    return { token: minted.token, tokenId: minted.tid, expiresAt: minted.expiresAt, refreshIn: s.refreshInS };
  }

  /** The base URL clients are sent to: auth.tokens.publicUrl if set, else the URL they called. */
  publicUrl(origin: string): string {
    return (this.#settings.publicUrl ?? origin).replace(/\/+$/, '');
  }

  /** Feature flags from config, echoed in the exchange response. */
  get flags(): Readonly<Record<string, string>> {
    return this.#settings.flags;
  }

  /**
   * Applies a reloaded `auth:` section: new ring (tokens of every key still listed keep verifying),
   * new token settings, new config denylist, new credential verifier. Throws, changing nothing, if
   * the new keys are unusable. Returns false when the Redis settings changed (those need a restart).
   */
  async reload(auth: AuthConfig): Promise<boolean> {
    if (auth.mode === 'none' || auth.verifier === undefined)
      throw new Error('auth.mode cannot change on reload; restart the gateway');
    assertTokenFlags(auth.tokens.flags);
    // The only await comes first: the checks and the swap below then run as one step, so two
    // reloads in quick succession cannot interleave.
    const credentials = await createVerifier(auth.verifier);
    try {
      const ring = keyRingFromConfig(auth);
      const old = this.#tokens.keyRing;
      for (const kid of ring.verifyingKeyIds) {
        const before = old.verificationKey(kid);
        // Same id, other secret: every token carrying that kid would fail BAD_SIGNATURE at once.
        if (before !== undefined && !before.equals(ring.verificationKey(kid) as KeyObject))
          throw new Error(
            `signing key "${kid}" has a different secret than before: give a new secret a new id`,
          );
      }
      this.#tokens.setKeyRing(ring);
    } catch (err) {
      credentials.close?.();
      throw err;
    }
    this.#tokens.setClockSkewS(auth.tokens.clockSkewS);
    this.#settings = auth.tokens;
    const previous = this.#credentials;
    this.#credentials = credentials;
    previous.close?.();
    return this.#revocation.replaceConfig(auth.revocation);
  }

  /** False while a configured Redis denylist has never been read: revoked tokens could pass. */
  revocationReady(): boolean {
    const st = this.#revocation.status();
    return !st.redis || st.lastSyncAt !== null;
  }

  /** Revocation status for /readyz and operators: counts only, never ids. */
  revocationStatus(): ReturnType<RevocationList['status']> {
    return this.#revocation.status();
  }

  async close(): Promise<void> {
    this.#credentials.close?.();
    await this.#revocation.close();
  }
}
