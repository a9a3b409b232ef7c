import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LimitsRedisConfig } from '../limits-schema.js';
import { StoreHealth } from './events.js';
import type { LimitKind, Plan, Scope, ScopeRule } from './plan.js';
import { LIMIT_SCRIPT } from './redis-script.js';
import type { Admitted, Denied, LimitStore, LimitSubject, Verdict } from './store.js';

/** Charges and slot releases wait this long for a request of the same user to carry them. */
const FLUSH_MS = 100;
/** Keys per settle-only script call: bounds one call's run time in Redis. */
const MAX_KEYS_PER_FLUSH = 256;
/** start() waits this long for a first connection, then the gateway serves anyway. */
const START_TIMEOUT_MS = 2000;

/** The custom command defineCommand adds (EVALSHA, loading the script once per connection). */
interface LimitCommand {
  ghostwireLimit(numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** A token charge waiting to be sent: the rule's script arguments and the tokens. */
interface PendingCharge {
  readonly args: readonly [string, string, string, string];
  tokens: number;
}

const KINDS: readonly LimitKind[] = ['requests', 'requests', 'tokens', 'concurrent'];

/**
 * Buckets in Redis, shared by every instance. Each admission is one EVALSHA of one Lua script
 * (redis-script.ts) over the user's, org's and sku's buckets and the user's slots, atomic in
 * Redis, on one connection with no offline queue: while Redis is down a check fails at once
 * instead of queueing, and one that gets no answer within `timeoutMs` fails then. Either way
 * the request is admitted unchecked and the limiter applies failOpen. ioredis reconnects with
 * its own backoff.
 *
 * What a request owes when it ends (generated tokens, its slot) is not worth a round trip of its
 * own: it rides along with the next admission of the same user (the script applies it before it
 * checks, so that user's next request sees it), and whatever is still pending after FLUSH_MS
 * goes in one settle-only call for many users. A settle that cannot be sent is dropped: the
 * store is failing open anyway, and a slot not released frees itself when its lease ends.
 */
export class RedisLimitStore implements LimitStore {
  readonly #client: Redis & LimitCommand;
  readonly #prefix: string;
  readonly health: StoreHealth;
  /** Unique per process, so slot ids of two instances never collide. */
  readonly #instance = randomBytes(6).toString('base64url');
  #seq = 0;
  #lastError = '';
  #charges = new Map<string, PendingCharge>();
  #releases = new Map<string, string[]>();
  #flushTimer: NodeJS.Timeout | undefined;
  #started: Promise<void> | undefined;
  #closed = false;
  /** Settles that could not be sent (Redis down or too slow). */
  droppedSettles = 0;

  constructor(settings: LimitsRedisConfig) {
    this.#prefix = settings.keyPrefix;
    this.health = new StoreHealth(settings.failOpen, settings.logIntervalMs);
    const client = new Redis(settings.url, {
      lazyConnect: true,
      // A request never waits for a connection: while there is none, a check fails at once.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: settings.timeoutMs,
      connectTimeout: Math.max(1000, settings.timeoutMs),
      connectionName: 'ghostwire-limits',
    });
    client.defineCommand('ghostwireLimit', { lua: LIMIT_SCRIPT });
    // Without a listener ioredis prints every reconnect failure; the cause goes into the next
    // "unreachable" message instead.
    client.on('error', (err: Error) => {
      this.#lastError = err.message;
    });
    this.#client = client as Redis & LimitCommand;
  }

  /** Connects; resolves once connected or after START_TIMEOUT_MS, whichever is first. Never rejects. */
  start(): Promise<void> {
    this.#started ??= (async () => {
      // connect() rejects when the first attempt fails, yet ioredis keeps retrying with its backoff.
      const connected = this.#client.connect().catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, START_TIMEOUT_MS)));
      await Promise.race([connected, timedOut]);
      clearTimeout(timer);
    })();
    return this.#started;
  }

  /** True while connected. */
  get connected(): boolean {
    return this.#client.status === 'ready';
  }

  admit(subject: LimitSubject, plan: Plan, leaseMs: number): Promise<Verdict> {
    const keys: string[] = [];
    const scopes: Scope[] = [];
    const args: (string | number)[] = ['a', 0, 0];
    const ticket = new RedisTicket(this, plan);
    this.#entity(keys, scopes, args, ticket, plan.user, subject.uid, 'u');
    if (subject.org !== undefined) this.#entity(keys, scopes, args, ticket, plan.org, subject.org, 'o');
    this.#entity(keys, scopes, args, ticket, plan.sku, subject.sku, 's');
    const n = keys.length;
    let z = 0;
    if (plan.concurrent !== undefined) {
      const key = `${this.#prefix}:c:${subject.uid}`;
      const slot = `${this.#instance}.${(this.#seq++).toString(36)}`;
      ticket.slotKey = key;
      ticket.slot = slot;
      const releases = this.#releases.get(key);
      if (releases !== undefined) this.#releases.delete(key);
      keys.push(key);
      scopes.push('user');
      args.push(plan.concurrent, slot, Math.ceil(leaseMs), releases?.length ?? 0, ...(releases ?? []));
      z = 1;
    }
    args[1] = n;
    args[2] = z;
    if (this.#client.status !== 'ready') {
      this.health.failed(this.#notConnected());
      return Promise.resolve(ticket);
    }
    return this.#client.ghostwireLimit(keys.length, ...keys, ...args).then(
      (reply) => this.#verdict(reply, ticket, scopes),
      (err: unknown) => {
        this.health.failed(errorMessage(err));
        return ticket;
      },
    );
  }

  /** Sends what is pending, then closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#flushTimer);
    if (this.connected) await this.#flush();
    if (this.#client.status === 'ready') await this.#client.quit().catch(() => this.#client.disconnect());
    else this.#client.disconnect();
  }

  /** A request ended: queue its token charge and slot release for the next call that can carry them. */
  settle(ticket: RedisTicket, tokens: number): void {
    if (this.#closed) return;
    const { plan } = ticket;
    if (tokens > 0 && plan.meters) {
      for (const e of ticket.metered) {
        const pending = this.#charges.get(e.key);
        if (pending === undefined) this.#charges.set(e.key, { args: e.args, tokens });
        else pending.tokens += tokens;
      }
    }
    if (ticket.slotKey !== undefined && ticket.slot !== undefined) {
      const list = this.#releases.get(ticket.slotKey);
      if (list === undefined) this.#releases.set(ticket.slotKey, [ticket.slot]);
      else list.push(ticket.slot);
    }
    if (this.#flushTimer === undefined && (this.#charges.size > 0 || this.#releases.size > 0))
      this.#flushTimer = setTimeout(this.#onFlushTimer, FLUSH_MS).unref();
  }

  /** One scope's entity: its key, its rule's arguments and the charge pending on it. */
  #entity(
    keys: string[],
    scopes: Scope[],
    args: (string | number)[],
    ticket: RedisTicket,
    rule: ScopeRule | undefined,
    id: string,
    tag: string,
  ): void {
    if (rule === undefined) return;
    const key = `${this.#prefix}:${tag}:${id}`;
    const pending = this.#charges.get(key);
    if (pending !== undefined) this.#charges.delete(key);
    keys.push(key);
    scopes.push(rule.scope);
    args.push(...rule.scriptArgs, pending?.tokens ?? 0);
    if (rule.tokens !== undefined) ticket.metered.push({ key, args: rule.scriptArgs });
  }

  #verdict(reply: unknown, ticket: RedisTicket, scopes: readonly Scope[]): Verdict {
    if (!Array.isArray(reply) || typeof reply[0] !== 'number') {
      this.health.failed('the rate-limit script answered something unexpected');
      return ticket;
    }
    this.health.ok();
    if (reply[0] === 0) {
      ticket.checked = true;
      return ticket;
    }
    const [, index, kind, wait] = reply as number[];
    // The script's index is 1-based over the keys, in the order `scopes` recorded them.
    const denied: Denied = {
      ok: false,
      scope: scopes[(index ?? 1) - 1] ?? 'user',
      kind: KINDS[kind ?? 1] ?? 'requests',
      waitMs: wait ?? 1000,
    };
    // Refused: nothing was taken, so there is nothing to give back.
    ticket.denied = true;
    return denied;
  }

  readonly #onFlushTimer = (): void => {
    this.#flushTimer = undefined;
    void this.#flush();
  };

  /** Sends every pending charge and release in settle-only calls of at most MAX_KEYS_PER_FLUSH keys. */
  async #flush(): Promise<void> {
    const charges = [...this.#charges];
    const releases = [...this.#releases];
    this.#charges.clear();
    this.#releases.clear();
    const calls: Promise<void>[] = [];
    while (charges.length > 0 || releases.length > 0) {
      const c = charges.splice(0, MAX_KEYS_PER_FLUSH);
      const r = releases.splice(0, MAX_KEYS_PER_FLUSH - c.length);
      const keys = [...c.map(([k]) => k), ...r.map(([k]) => k)];
      const args: (string | number)[] = ['s', c.length, r.length];
      for (const [, p] of c) args.push(...p.args, p.tokens);
      for (const [, slots] of r) args.push(0, '', 0, slots.length, ...slots);
      if (this.#client.status !== 'ready') {
        this.droppedSettles += keys.length;
        continue;
      }
      calls.push(
        this.#client.ghostwireLimit(keys.length, ...keys, ...args).then(
          () => {},
          () => {
            this.droppedSettles += keys.length;
          },
        ),
      );
    }
    await Promise.all(calls);
  }

  #notConnected(): string {
    return this.#lastError === '' ? 'not connected to Redis' : `not connected to Redis (${this.#lastError})`;
  }
}

/**
 * One request's admission: admitted (checked or not) until the script says otherwise. Settled
 * once when the request ends, even when the answer never came: the script may have run, so
 * its slot is released (removing a slot that was never added changes nothing).
 */
class RedisTicket implements Admitted {
  readonly ok = true;
  checked = false;
  denied = false;
  slotKey: string | undefined;
  slot: string | undefined;
  /** The token buckets to charge, with their rule's arguments. */
  readonly metered: { key: string; args: readonly [string, string, string, string] }[] = [];

  constructor(
    private readonly store: RedisLimitStore,
    readonly plan: Plan,
  ) {}

  settle(tokens: number): void {
    if (!this.denied) this.store.settle(this, tokens);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
