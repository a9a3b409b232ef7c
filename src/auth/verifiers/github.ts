import { createHash } from 'node:crypto';
import { z } from 'zod';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Identity } from '../identity.js';
import { abortError, type CredentialVerifier, type GithubVerifierConfig } from './verifier.js';

/** Tuning not in the config file; tests inject the clock. */
export interface GithubVerifierOptions {
  /** Milliseconds clock for cache expiry. Default Date.now. */
  readonly now?: () => number;
  /** Most identities cached at once; the oldest is dropped first. Default 10 000. */
  readonly maxCacheEntries?: number;
  /** Most /user/orgs pages (100 orgs each) read per lookup. Default 10. */
  readonly maxOrgPages?: number;
}

const ORGS_PER_PAGE = 100;
// Printable ASCII without ':' ';' '=': a gateway token (k=v;...:mac) or other junk sent here by
// mistake is refused locally instead of costing a GitHub call (and our GitHub rate limit).
const TOKEN_CHARS = /^[\x21-\x39\x3c\x3e-\x7e]+$/;
// Distinct credentials being looked up at once; beyond this, fail fast rather than queue calls to
// GitHub that a flood of made-up credentials would use to exhaust our rate limit.
const MAX_FLIGHTS = 256;
/** Retry-After hint when GitHub cannot be reached or answers 5xx. */
const UNAVAILABLE_RETRY_AFTER_S = 5;
/** Retry-After when GitHub rate-limits us without saying for how long. */
const RATE_LIMITED_RETRY_AFTER_S = 60;

// Unknown fields are ignored: GitHub adds fields to these objects over time.
const GithubUser = z.object({ id: z.number().int().nonnegative(), login: z.string().min(1) });
const GithubOrgs = z.array(z.object({ login: z.string() }));

interface CacheEntry {
  readonly identity: Identity;
  readonly expiresAtMs: number;
}

/** One upstream lookup shared by every concurrent verify() of the same credential. */
interface Flight {
  readonly promise: Promise<Identity>;
  /**
   * Aborts the lookup once every waiter has gone. It is derived from the callers' signals (it
   * fires only when all of them have), not an unrelated one: a single caller leaving must not
   * cancel a lookup others still wait for, so no one caller's signal can be passed to fetch.
   */
  readonly controller: AbortController;
  waiters: number;
  settled: boolean;
}

/** SHA-256 of the credential: the only form in which it is kept (cache and flight keys). */
function digest(credential: string): string {
  return createHash('sha256').update(credential, 'utf8').digest('hex');
}

/** Seconds to wait according to GitHub's rate-limit headers, or undefined when not rate-limited. */
function rateLimitRetryAfterS(res: Response, nowMs: number): number | undefined {
  const retryAfter = res.headers.get('retry-after');
  const remaining = res.headers.get('x-ratelimit-remaining');
  if (res.status !== 429 && retryAfter === null && remaining !== '0') return undefined;
  const clamp = (s: number): number => Math.min(3600, Math.max(1, Math.ceil(s)));
  if (retryAfter !== null && /^\d+$/.test(retryAfter)) return clamp(Number(retryAfter));
  const reset = Number(res.headers.get('x-ratelimit-reset'));
  if (remaining === '0' && Number.isFinite(reset) && reset > 0) return clamp(reset - nowMs / 1000);
  return RATE_LIMITED_RETRY_AFTER_S;
}

/**
 * A GitHub (or GitHub Enterprise Server) OAuth token, checked by asking GitHub who it belongs to.
 * Positive answers are cached for cacheTtlS so a burst of exchanges costs one GitHub call.
 *
 * HTTP client: Node's global fetch (undici inside) rather than undici.request or the gateway's h2
 * dispatchers. This is off the hot path (one call per user per cacheTtlS), fetch takes the abort
 * signal natively, and it is the client jose uses for the OIDC JWKS, so one global dispatcher
 * (e.g. a proxy agent set by the operator) configures both verifiers' outbound calls.
 */
export class GithubVerifier implements CredentialVerifier {
  readonly kind = 'github';
  readonly #cfg: GithubVerifierConfig;
  readonly #base: string;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #maxOrgPages: number;
  readonly #disabled: ReadonlySet<string>;
  // Map keeps insertion order, so its first key is the oldest entry: eviction without a heap.
  readonly #cache = new Map<string, CacheEntry>();
  readonly #flights = new Map<string, Flight>();
  #closed = false;

  constructor(cfg: GithubVerifierConfig, opts: GithubVerifierOptions = {}) {
    this.#cfg = cfg;
    this.#base = cfg.apiBaseUrl.replace(/\/+$/, '');
    this.#now = opts.now ?? Date.now;
    this.#maxEntries = Math.max(1, opts.maxCacheEntries ?? 10_000);
    this.#maxOrgPages = Math.max(1, opts.maxOrgPages ?? 10);
    // GitHub logins are case-insensitive.
    this.#disabled = new Set(cfg.disabledLogins.map((l) => l.toLowerCase()));
  }

  /** Number of cached identities (for tests and metrics). */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /** Resolves the GitHub user behind an OAuth token, from the cache or one (shared) GitHub lookup. */
  verify(credential: string, signal: AbortSignal): Promise<Identity> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    // GitHub tokens are printable ASCII. Anything else cannot be one, and fetch would refuse it as
    // a header value with an error message that quotes it.
    if (!TOKEN_CHARS.test(credential))
      return Promise.reject(
        new GatewayError('GW_CREDENTIAL_INVALID', { detail: 'The credential is not a GitHub token.' }),
      );
    const key = digest(credential);
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      if (hit.expiresAtMs > this.#now()) return Promise.resolve(hit.identity);
      this.#cache.delete(key);
    }
    let flight = this.#flights.get(key);
    if (flight === undefined) {
      if (this.#flights.size >= MAX_FLIGHTS)
        return Promise.reject(
          new GatewayError('GW_AUTH_UNAVAILABLE', {
            detail: 'Too many GitHub lookups in progress.',
            retryAfterS: 1,
          }),
        );
      flight = this.#startFlight(key, credential);
    }
    return this.#join(key, flight, signal);
  }

  /** Drops cached identities; lookups in flight finish but are not cached. */
  close(): void {
    this.#closed = true;
    this.#cache.clear();
  }

  #startFlight(key: string, credential: string): Flight {
    const controller = new AbortController();
    const promise = this.#lookup(credential, controller.signal).then((identity) => {
      this.#remember(key, identity);
      return identity;
    });
    const flight: Flight = { promise, controller, waiters: 0, settled: false };
    const done = (): void => {
      flight.settled = true;
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    };
    // The flight may settle after every waiter has left; this handler keeps that rejection handled.
    promise.then(done, done);
    this.#flights.set(key, flight);
    return flight;
  }

  #join(key: string, flight: Flight, signal: AbortSignal): Promise<Identity> {
    flight.waiters++;
    return new Promise<Identity>((resolve, reject) => {
      const onAbort = (): void => {
        flight.waiters--;
        if (flight.waiters === 0 && !flight.settled) {
          // Nobody wants the answer any more: stop the GitHub call, and let the next verify()
          // of this credential start afresh rather than join a cancelled lookup.
          if (this.#flights.get(key) === flight) this.#flights.delete(key);
          flight.controller.abort();
        }
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        (identity) => {
          signal.removeEventListener('abort', onAbort);
          resolve(identity);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err instanceof Error ? err : new GatewayError('GW_INTERNAL', { cause: err }));
        },
      );
    });
  }

  #remember(key: string, identity: Identity): void {
    if (this.#closed) return;
    this.#cache.delete(key);
    while (this.#cache.size >= this.#maxEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done === true) break;
      this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, { identity, expiresAtMs: this.#now() + this.#cfg.cacheTtlS * 1000 });
  }

  /** GET /user (and /user/orgs when orgs are restricted) under one deadline of timeoutMs. */
  async #lookup(credential: string, cancelled: AbortSignal): Promise<Identity> {
    const deadline = AbortSignal.timeout(this.#cfg.timeoutMs);
    const signal = AbortSignal.any([cancelled, deadline]);
    try {
      const user = GithubUser.safeParse(await this.#get('/user', credential, signal));
      if (!user.success)
        throw new GatewayError('GW_AUTH_UNAVAILABLE', {
          detail: 'The GitHub API answered /user without a numeric id and a login; check apiBaseUrl.',
          retryAfterS: UNAVAILABLE_RETRY_AFTER_S,
        });
      const { id, login } = user.data;
      if (this.#disabled.has(login.toLowerCase())) throw new GatewayError('GW_USER_DISABLED');
      const org = await this.#allowedOrg(credential, signal);
      return Object.freeze({ uid: String(id), login, sku: this.#cfg.sku, org });
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      if (deadline.aborted && !cancelled.aborted)
        throw new GatewayError('GW_AUTH_UNAVAILABLE', {
          detail: `The GitHub API did not answer within ${this.#cfg.timeoutMs} ms.`,
          retryAfterS: UNAVAILABLE_RETRY_AFTER_S,
          cause: err,
        });
      if (cancelled.aborted) throw new GatewayError('GW_CLIENT_CLOSED', { cause: err });
      throw new GatewayError('GW_AUTH_UNAVAILABLE', {
        detail: `The GitHub API could not be reached (${networkCode(err)}).`,
        retryAfterS: UNAVAILABLE_RETRY_AFTER_S,
        cause: err,
      });
    }
  }

  /**
   * The first configured org the user belongs to; undefined when orgs are not restricted. Reads
   * /user/orgs page by page (bounded), building page URLs itself rather than following the Link
   * header, so the credential is only ever sent to apiBaseUrl.
   */
  async #allowedOrg(credential: string, signal: AbortSignal): Promise<string | undefined> {
    const allowed = this.#cfg.allowedOrgs;
    if (allowed.length === 0) return undefined;
    const memberOf = new Set<string>();
    for (let page = 1; page <= this.#maxOrgPages; page++) {
      const body = await this.#get(`/user/orgs?per_page=${ORGS_PER_PAGE}&page=${page}`, credential, signal);
      const orgs = GithubOrgs.safeParse(body);
      if (!orgs.success)
        throw new GatewayError('GW_AUTH_UNAVAILABLE', {
          detail: 'The GitHub API answered /user/orgs with something other than a list of orgs.',
          retryAfterS: UNAVAILABLE_RETRY_AFTER_S,
        });
      for (const o of orgs.data) memberOf.add(o.login.toLowerCase());
      if (orgs.data.length < ORGS_PER_PAGE) break;
    }
    const org = allowed.find((a) => memberOf.has(a.toLowerCase()));
    if (org === undefined)
      throw new GatewayError('GW_CREDENTIAL_INVALID', {
        detail: 'not a member of an allowed organisation',
      });
    return org;
  }

  /** One authenticated GET; resolves with the parsed JSON of a 200, throws a GatewayError otherwise. */
  async #get(path: string, credential: string, signal: AbortSignal): Promise<unknown> {
    const res = await fetch(`${this.#base}${path}`, {
      headers: {
        authorization: `token ${credential}`,
        accept: 'application/vnd.github+json',
        'user-agent': 'ghostwire',
        'x-github-api-version': '2022-11-28',
      },
      // A redirect would mean apiBaseUrl is wrong; following it could carry the token elsewhere.
      redirect: 'manual',
      signal,
    });
    if (res.status === 200) {
      try {
        return await res.json();
      } catch (err) {
        if (signal.aborted) throw err; // the deadline or the callers, classified by #lookup
        throw new GatewayError('GW_AUTH_UNAVAILABLE', {
          detail: `The GitHub API answered ${path.split('?')[0] ?? path} with a body that is not JSON.`,
          retryAfterS: UNAVAILABLE_RETRY_AFTER_S,
        });
      }
    }
    // Release the connection; the error body (GitHub's message) is not needed.
    await res.body?.cancel().catch(() => undefined);
    throw this.#statusError(res, path.split('?')[0] ?? path);
  }

  #statusError(res: Response, path: string): GatewayError {
    const retryAfterS = rateLimitRetryAfterS(res, this.#now());
    if (retryAfterS !== undefined && (res.status === 403 || res.status === 429))
      return new GatewayError('GW_AUTH_UNAVAILABLE', {
        detail: 'The GitHub API is rate-limiting this gateway.',
        retryAfterS,
      });
    if (res.status === 401)
      return new GatewayError('GW_CREDENTIAL_INVALID', { detail: 'GitHub answered 401.' });
    if (res.status === 403)
      return new GatewayError('GW_CREDENTIAL_INVALID', {
        detail:
          path === '/user/orgs'
            ? 'GitHub refused to list the organisations of this token (it needs the read:org scope).'
            : 'GitHub answered 403.',
      });
    if (res.status >= 300 && res.status < 400)
      return new GatewayError('GW_AUTH_UNAVAILABLE', {
        detail: `The GitHub API answered ${path} with a redirect (${res.status}); check apiBaseUrl.`,
        retryAfterS: UNAVAILABLE_RETRY_AFTER_S,
      });
    return new GatewayError('GW_AUTH_UNAVAILABLE', {
      detail: `The GitHub API answered ${path} with ${res.status}.`,
      retryAfterS: UNAVAILABLE_RETRY_AFTER_S,
    });
  }
}

/** A secret-free reason for a failed fetch: the socket error code undici puts in `cause`. */
function networkCode(err: unknown): string {
  const cause: unknown = err instanceof Error ? err.cause : undefined;
  if (typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string')
    return cause.code;
  return err instanceof Error ? err.name : 'error';
}

/** A verifier for GitHub OAuth tokens against the configured GitHub API. */
export function createGithubVerifier(
  cfg: GithubVerifierConfig,
  opts: GithubVerifierOptions = {},
): GithubVerifier {
  return new GithubVerifier(cfg, opts);
}
