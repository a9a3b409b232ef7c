import diagnostics_channel from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';

/**
 * Health of the shared rate-limit store (Redis). The store publishes; the log line on stderr
 * (telemetry/limits-log.ts), metrics and health checks subscribe. Messages carry counts and an
 * error message, never a key: keys hold user ids.
 */
export const limitsStoreChannel = diagnostics_channel.channel('ghostwire:policy:limits-store');

/** One message on `ghostwire:policy:limits-store`. */
export type LimitsStoreMessage =
  /** Requests are going unchecked (failOpen) or refused (not failOpen); at most one per logIntervalMs. */
  | {
      readonly type: 'unreachable';
      readonly failOpen: boolean;
      /** Requests not checked since the previous message (or since the outage began). */
      readonly unchecked: number;
      readonly error: string;
    }
  /** The first check that succeeded after an outage. */
  | { readonly type: 'reachable'; readonly unchecked: number; readonly downMs: number };

/**
 * Tracks whether the store answers and says so on the channel: an outage at once, then at most
 * one "unreachable" message per interval while it lasts (a flapping connection included), and
 * one "reachable" when an outage that was announced ends. `ok()` runs on every successful
 * check, so it is one branch while all is well.
 */
export class StoreHealth {
  #down = false;
  #announced = false;
  #downSince = 0;
  #lastMessageAt = -Infinity;
  #sinceMessage = 0;
  #sinceDown = 0;
  /** Checks that failed since start. */
  failures = 0;

  constructor(
    private readonly failOpen: boolean,
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get down(): boolean {
    return this.#down;
  }

  /** A check could not be made; `error` says why (no key, no user id in it). */
  failed(error: string): void {
    this.failures++;
    this.#sinceMessage++;
    this.#sinceDown++;
    const now = this.now();
    if (!this.#down) {
      this.#down = true;
      this.#downSince = now;
    }
    if (now - this.#lastMessageAt < this.intervalMs) return;
    this.#lastMessageAt = now;
    this.#announced = true;
    publish({ type: 'unreachable', failOpen: this.failOpen, unchecked: this.#sinceMessage, error });
    this.#sinceMessage = 0;
  }

  /** A check succeeded. */
  ok(): void {
    if (!this.#down) return;
    this.#down = false;
    if (this.#announced)
      publish({ type: 'reachable', unchecked: this.#sinceDown, downMs: this.now() - this.#downSince });
    this.#announced = false;
    this.#sinceDown = 0;
    this.#sinceMessage = 0;
  }
}

function publish(message: LimitsStoreMessage): void {
  if (limitsStoreChannel.hasSubscribers) limitsStoreChannel.publish(message);
}
