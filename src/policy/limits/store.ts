import type { LimitKind, Plan, Scope } from './plan.js';

/** Who a request counts against: the verified identity's keys. */
export interface LimitSubject {
  readonly uid: string;
  readonly org: string | undefined;
  readonly sku: string;
}

/** The request may go on; what it took is given back or charged when it ends. */
export interface Admitted {
  readonly ok: true;
  /** False when the store could not be asked (Redis unreachable or too slow): nothing was checked. */
  readonly checked: boolean;
  /** The request ended having generated `tokens`: charge them, give its slot back. Called once. */
  settle(tokens: number): void;
}

/** The request may not go on: the bucket that said no and when it will say yes. */
export interface Denied {
  readonly ok: false;
  readonly scope: Scope;
  readonly kind: LimitKind;
  /** Milliseconds until this bucket admits again (the longest wait among those that refused). */
  readonly waitMs: number;
}

export type Verdict = Admitted | Denied;

/**
 * Where buckets live. `admit` checks every bucket of the request and, only when all of them
 * admit, takes from each, as one step: a request refused by its org's bucket takes nothing from
 * its user's. The memory store answers at once; the Redis store answers with a promise that
 * never rejects (an unreachable Redis is an Admitted with checked false).
 */
export interface LimitStore {
  admit(subject: LimitSubject, plan: Plan, leaseMs: number): Verdict | Promise<Verdict>;
  /** Stops timers and closes connections; settles still pending are sent first when possible. */
  close(): Promise<void>;
}

/** Nothing was checked and there is nothing to give back. */
export const UNCHECKED: Admitted = { ok: true, checked: false, settle: () => {} };
