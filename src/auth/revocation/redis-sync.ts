import { Redis } from 'ioredis';
import type { Denylist } from './denylist.js';
import { publishSync } from './events.js';
import {
  applyEvent,
  decodeEvent,
  revocationKeys,
  type RevocationEvent,
  type RevocationKeys,
} from './protocol.js';

/** `revocation.redis` from the config, as parsed (defaults applied). */
export interface RedisSyncSettings {
  readonly url: string;
  readonly keyPrefix: string;
  readonly syncIntervalMs: number;
}

/** Health of the Redis half of the denylist. */
export interface RedisSyncStatus {
  /** Both connections are up and the subscriber is subscribed. */
  readonly connected: boolean;
  /** When the last full resync succeeded (ms since the epoch); null before the first. */
  readonly lastSyncAt: number | null;
  /** Failed resyncs since start (one per interval while Redis is down). */
  readonly syncErrors: number;
  /** The last connection or resync error message; null if there was none. */
  readonly lastError: string | null;
}

// A resync is two SMEMBERS; if Redis takes longer than this it is stuck, and failing the attempt
// lets the next interval try again instead of waiting on a dead socket until TCP gives up.
const SYNC_TIMEOUT_MS = 5000;

/**
 * Keeps a Denylist's Redis half in step with the shared sets. Pub/sub carries each change at once;
 * a full resync every syncIntervalMs catches what pub/sub cannot (it is fire-and-forget: messages
 * sent while disconnected are lost) and direct SREMs made without a message. When Redis is down
 * the last known list stays in force; ioredis reconnects with its own backoff.
 */
export class RedisRevocationSync {
  private readonly keys: RevocationKeys;
  /** SMEMBERS; no offline queue, so a resync during an outage fails at once instead of piling up. */
  private readonly cmd: Redis;
  /** SUBSCRIBE only (a subscribed connection cannot run other commands). */
  private readonly sub: Redis;
  private timer: NodeJS.Timeout | undefined;
  private subscribed = false;
  private connected = false;
  private closed = false;
  private syncing = false;
  private syncAgain = false;
  /** Events received while a resync is in flight, replayed over its snapshot (see resync). */
  private journal: RevocationEvent[] | undefined;
  private lastSyncAt: number | null = null;
  private syncErrors = 0;
  private lastError: string | null = null;
  private started: Promise<void> | undefined;
  private markFirstSync: () => void = () => {};
  private readonly firstSync = new Promise<void>((resolve) => (this.markFirstSync = resolve));

  constructor(
    private readonly settings: RedisSyncSettings,
    private readonly denylist: Denylist,
    private readonly startTimeoutMs: number,
  ) {
    this.keys = revocationKeys(settings.keyPrefix);
    const common = {
      lazyConnect: true,
      enableOfflineQueue: false,
      // Nothing stale is resent after a reconnect: the 'ready' handlers below start afresh.
      autoResendUnfulfilledCommands: false,
      connectionName: 'ghostwire-revocation',
    };
    this.cmd = new Redis(settings.url, { ...common, commandTimeout: SYNC_TIMEOUT_MS });
    // We subscribe ourselves on every 'ready' so the catch-up resync starts only once the
    // subscription is active; ioredis' autoResubscribe gives no such ordering.
    this.sub = new Redis(settings.url, { ...common, autoResubscribe: false });

    this.cmd.on('ready', () => {
      this.updateConnected();
      void this.resync();
    });
    this.cmd.on('close', () => this.updateConnected());
    this.sub.on('ready', () => void this.subscribe());
    this.sub.on('close', () => {
      this.subscribed = false;
      this.updateConnected();
    });
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    // Without a listener ioredis prints every reconnect failure to the console. Errors show up
    // in status() and, through failed resyncs, on the diagnostics channel instead.
    const onError = (err: Error): void => {
      this.lastError = err.message;
    };
    this.cmd.on('error', onError);
    this.sub.on('error', onError);
  }

  /**
   * Connects and resolves once subscribed and resynced, or after startTimeoutMs, whichever is
   * first; never rejects.
   */
  start(): Promise<void> {
    this.started ??= this.doStart();
    return this.started;
  }

  /** Stops the resync loop and closes both connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.markFirstSync();
    await Promise.all([shutdown(this.cmd), shutdown(this.sub)]);
  }

  /** A snapshot of connection and resync health. */
  status(): RedisSyncStatus {
    return {
      connected: this.connected,
      lastSyncAt: this.lastSyncAt,
      syncErrors: this.syncErrors,
      lastError: this.lastError,
    };
  }

  private async doStart(): Promise<void> {
    if (this.closed) return;
    // connect() rejects when the first attempt fails, yet ioredis keeps retrying with its
    // backoff; the 'ready' handlers take it from there, so the rejection carries no news.
    this.cmd.connect().catch(() => {});
    this.sub.connect().catch(() => {});
    this.timer = setInterval(() => void this.resync(), this.settings.syncIntervalMs);
    // Gateway startup must not wait on Redis for long: past the timeout we serve with the config
    // part alone and Redis entries arrive when it answers.
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timeout = setTimeout(resolve, this.startTimeoutMs)));
    await Promise.race([this.firstSync, timedOut]);
    clearTimeout(timeout);
  }

  private async subscribe(): Promise<void> {
    try {
      await this.sub.subscribe(this.keys.events);
    } catch (err) {
      // The connection dropped mid-subscribe; the next 'ready' tries again.
      this.lastError = errorMessage(err);
      return;
    }
    this.subscribed = true;
    this.updateConnected();
    // Whatever was published while we were not subscribed is lost; a resync started now covers it.
    void this.resync();
  }

  private onMessage(channel: string, message: string): void {
    if (channel !== this.keys.events || this.closed) return;
    const event = decodeEvent(message);
    if (event === undefined) {
      // A message we cannot read still means something changed.
      void this.resync();
      return;
    }
    this.journal?.push(event);
    this.denylist.applyRedisEvent(event);
    const counts = this.denylist.counts();
    publishSync({ type: 'event', op: event.op, tokenIds: counts.tokenIds, uids: counts.uids });
  }

  /**
   * Replaces the Redis half with SMEMBERS of both sets. The snapshot may be older than an event
   * already applied (the reply and the message travel on different connections), so events that
   * arrive while it is in flight are replayed over it: each event is a set/unset of one id, so
   * replaying ones the snapshot already reflects changes nothing, and later ones win as they should.
   */
  private async resync(): Promise<void> {
    if (this.closed) return;
    if (this.syncing) {
      // The running resync may have read the sets before the change that triggered this one.
      this.syncAgain = true;
      return;
    }
    this.syncing = true;
    // Only a resync that began with the subscription live proves nothing can be missed from now
    // on, so only such a one may release start().
    const live = this.subscribed;
    const journal: RevocationEvent[] = [];
    this.journal = journal;
    const started = performance.now();
    try {
      const replies = await this.cmd.multi().smembers(this.keys.tids).smembers(this.keys.uids).exec();
      if (this.closed) return;
      const tids = new Set(members(replies, 0));
      const uids = new Set(members(replies, 1));
      for (const event of journal) applyEvent(tids, uids, event);
      const changed = this.denylist.setRedis(tids, uids);
      this.lastSyncAt = Date.now();
      if (live) this.markFirstSync();
      const counts = this.denylist.counts();
      publishSync({
        type: 'sync',
        changed,
        tokenIds: counts.tokenIds,
        uids: counts.uids,
        durationMs: performance.now() - started,
      });
    } catch (err) {
      if (this.closed) return;
      this.syncErrors++;
      this.lastError = errorMessage(err);
      publishSync({ type: 'sync-error', error: this.lastError, syncErrors: this.syncErrors });
    } finally {
      this.journal = undefined;
      this.syncing = false;
      if (this.syncAgain) {
        this.syncAgain = false;
        void this.resync();
      }
    }
  }

  private updateConnected(): void {
    const connected = this.cmd.status === 'ready' && this.sub.status === 'ready' && this.subscribed;
    if (connected === this.connected) return;
    this.connected = connected;
    if (!this.closed) publishSync({ type: 'connection', connected });
  }
}

/** One SMEMBERS reply out of an EXEC result, checked. */
function members(replies: [error: Error | null, result: unknown][] | null, index: number): string[] {
  const entry = replies?.[index];
  // EXEC answers null when the transaction was aborted.
  if (entry === undefined) throw new Error('revocation resync: transaction aborted');
  const [err, value] = entry;
  if (err !== null) throw err;
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string'))
    throw new Error('revocation resync: SMEMBERS did not return a list of strings');
  return value;
}

/** Quits cleanly if connected, else drops the socket or the pending reconnect; resolves once nothing is left open. */
async function shutdown(client: Redis): Promise<void> {
  // Between attempts there is no socket, only ioredis' retry timer, which disconnect() clears
  // without ever emitting 'end'; waiting for it would hang.
  if (client.status === 'end' || client.status === 'reconnecting') {
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else client.disconnect();
  await ended;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
