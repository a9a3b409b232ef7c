import { performance } from 'node:perf_hooks';
import { FULL, refill, waitMs, type BucketSpec } from './bucket.js';
import type { LimitKind, Plan, Scope, ScopeRule } from './plan.js';
import type { Admitted, Denied, LimitStore, LimitSubject, Verdict } from './store.js';

/** One user's, org's or sku's buckets and, for a user, their requests in flight. */
class Entity {
  /** Request bucket level, read at `requestsAt` (FULL: never used). */
  requests = FULL;
  requestsAt = 0;
  /** Token bucket level (negative: in debt), read at `tokensAt`. */
  tokens = FULL;
  tokensAt = 0;
  inFlight = 0;
  /** The rule it was last used with: eviction needs it to tell a full bucket from a used one. */
  rule: ScopeRule | undefined;
  /** Scratch during one admission: the refilled request level, taken from only if all admit. */
  next = 0;

  /** Nothing to remember: both buckets are full again and nothing is in flight. */
  idle(now: number): boolean {
    if (this.inFlight > 0) return false;
    const r = this.rule;
    if (r === undefined) return true;
    return (
      full(this.requests, this.requestsAt, now, r.requests) && full(this.tokens, this.tokensAt, now, r.tokens)
    );
  }
}

function full(level: number, at: number, now: number, spec: BucketSpec | undefined): boolean {
  return spec === undefined || refill(level, at, now, spec) >= spec.capacity;
}

/** The entities of one scope, bounded: idle ones are dropped first when it is full. */
class EntityMap {
  readonly #map = new Map<string, Entity>();

  constructor(private readonly maxKeys: number) {}

  get size(): number {
    return this.#map.size;
  }

  /** The entity for `key`, created (full) when absent. */
  get(key: string, now: number): Entity {
    let e = this.#map.get(key);
    if (e === undefined) {
      if (this.#map.size >= this.maxKeys) this.#evict(now);
      e = new Entity();
      this.#map.set(key, e);
    }
    return e;
  }

  /**
   * Makes room: drops every idle entity (a full bucket is the same as an absent one), then, if
   * that left more than 90% of maxKeys, the oldest entries with nothing in flight. So it runs at
   * most once per tenth of maxKeys new keys. Dropping a bucket that was not full forgives what it
   * had used: the bound on memory wins over exactness for the keys unused the longest.
   */
  #evict(now: number): void {
    for (const [key, e] of this.#map) if (e.idle(now)) this.#map.delete(key);
    const target = Math.floor(this.maxKeys * 0.9);
    for (const [key, e] of this.#map) {
      if (this.#map.size <= target) break;
      if (e.inFlight === 0) this.#map.delete(key);
    }
  }
}

/**
 * Buckets in this process's memory: one instance's limits (the default store). A check is up to
 * three Map lookups and some arithmetic, with no timers and no allocation but the admitted
 * request's ticket; memory is bounded by `maxKeys` per scope.
 */
export class MemoryLimitStore implements LimitStore {
  readonly #users: EntityMap;
  readonly #orgs: EntityMap;
  readonly #skus: EntityMap;
  readonly #now: () => number;
  // The longest wait among the buckets that refused, during one admission (one at a time).
  #waitMs = 0;
  #scope: Scope = 'user';
  #kind: LimitKind = 'requests';

  constructor(maxKeys: number, now: () => number = () => performance.now()) {
    this.#users = new EntityMap(maxKeys);
    this.#orgs = new EntityMap(maxKeys);
    this.#skus = new EntityMap(maxKeys);
    this.#now = now;
  }

  /** Keys held per scope, for tests and stats. */
  get sizes(): { users: number; orgs: number; skus: number } {
    return { users: this.#users.size, orgs: this.#orgs.size, skus: this.#skus.size };
  }

  admit(subject: LimitSubject, plan: Plan, _leaseMs: number): Verdict {
    const now = this.#now();
    const user =
      plan.user !== undefined || plan.concurrent !== undefined
        ? this.#users.get(subject.uid, now)
        : undefined;
    const org =
      plan.org !== undefined && subject.org !== undefined ? this.#orgs.get(subject.org, now) : undefined;
    const sku = plan.sku !== undefined ? this.#skus.get(subject.sku, now) : undefined;
    // Read every bucket first; take from them only if all admit.
    this.#waitMs = 0;
    this.#read(user, plan.user, now);
    this.#read(org, plan.org, now);
    this.#read(sku, plan.sku, now);
    // A slot frees when some request ends, which no clock predicts: a second is a fair guess.
    if (plan.concurrent !== undefined && user !== undefined && user.inFlight >= plan.concurrent)
      this.#consider('user', 'concurrent', 1000);
    if (this.#waitMs > 0) {
      const denied: Denied = { ok: false, scope: this.#scope, kind: this.#kind, waitMs: this.#waitMs };
      return denied;
    }
    take(user, plan.user, now);
    take(org, plan.org, now);
    take(sku, plan.sku, now);
    if (plan.concurrent !== undefined && user !== undefined) user.inFlight++;
    return new MemoryTicket(this.#now, plan, user, org, sku);
  }

  async close(): Promise<void> {}

  #read(e: Entity | undefined, r: ScopeRule | undefined, now: number): void {
    if (e === undefined || r === undefined) return;
    e.rule = r;
    if (r.requests !== undefined) {
      e.next = refill(e.requests, e.requestsAt, now, r.requests);
      this.#consider(r.scope, 'requests', waitMs(e.next, 1, r.requests));
    }
    if (r.tokens !== undefined)
      this.#consider(r.scope, 'tokens', waitMs(refill(e.tokens, e.tokensAt, now, r.tokens), 0, r.tokens));
  }

  #consider(scope: Scope, kind: LimitKind, wait: number): void {
    if (wait <= this.#waitMs) return;
    this.#waitMs = wait;
    this.#scope = scope;
    this.#kind = kind;
  }
}

function take(e: Entity | undefined, r: ScopeRule | undefined, now: number): void {
  if (e === undefined || r?.requests === undefined) return;
  e.requests = e.next - 1;
  e.requestsAt = now;
}

/** An admitted request's hold on its entities, settled once when it ends. */
class MemoryTicket implements Admitted {
  readonly ok = true;
  readonly checked = true;

  constructor(
    private readonly now: () => number,
    private readonly plan: Plan,
    private readonly user: Entity | undefined,
    private readonly org: Entity | undefined,
    private readonly sku: Entity | undefined,
  ) {}

  settle(tokens: number): void {
    const { plan } = this;
    if (plan.concurrent !== undefined && this.user !== undefined) this.user.inFlight--;
    if (tokens <= 0 || !plan.meters) return;
    const now = this.now();
    charge(this.user, plan.user?.tokens, tokens, now);
    charge(this.org, plan.org?.tokens, tokens, now);
    charge(this.sku, plan.sku?.tokens, tokens, now);
  }
}

function charge(e: Entity | undefined, spec: BucketSpec | undefined, tokens: number, now: number): void {
  if (e === undefined || spec === undefined) return;
  e.tokens = refill(e.tokens, e.tokensAt, now, spec) - tokens;
  e.tokensAt = now;
}
