import type { RevocationConfig } from '../../config/schema.js';
import { Denylist, type RevocationCheck } from './denylist.js';
import { RedisRevocationSync, type RedisSyncStatus } from './redis-sync.js';

/** Tuning that is not configuration. */
export interface RevocationListOptions {
  /** start() resolves after the first Redis resync or this long, whichever is first. Default 2000. */
  readonly startTimeoutMs?: number;
}

/** What status() reports: Redis health plus the sizes of the effective lists. */
export interface RevocationStatus extends RedisSyncStatus {
  /** False when `revocation.redis` is not configured (then `connected` is always false). */
  readonly redis: boolean;
  /** Revoked token ids in force (config ∪ Redis). */
  readonly tokenIds: number;
  /** Revoked user ids in force (config ∪ Redis). */
  readonly uids: number;
}

const DEFAULT_START_TIMEOUT_MS = 2000;

/**
 * The token denylist the completion path consults on every request: ids from the config file
 * plus, when `revocation.redis` is set, the shared Redis sets every gateway instance follows.
 * A Redis outage never clears the list and never fails a request; the last known entries stay
 * in force until Redis answers again.
 */
export class RevocationList implements RevocationCheck {
  private readonly denylist = new Denylist();
  private readonly sync: RedisRevocationSync | undefined;
  /** The Redis settings in force, to tell a reload that changes them (they need a restart). */
  private readonly redisSettings: string;

  constructor(cfg: RevocationConfig, options: RevocationListOptions = {}) {
    this.denylist.setConfig(cfg.tokenIds, cfg.uids);
    this.redisSettings = JSON.stringify(cfg.redis ?? null);
    if (cfg.redis !== undefined)
      this.sync = new RedisRevocationSync(
        cfg.redis,
        this.denylist,
        options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      );
  }

  /** True when the token id or its user is revoked. Synchronous, two Set lookups, no allocation. */
  isRevoked(tid: string, uid: string): boolean {
    return this.denylist.isRevoked(tid, uid);
  }

  /** Connects to Redis (if configured); resolves after the first resync or the start timeout. Never rejects. */
  start(): Promise<void> {
    return this.sync?.start() ?? Promise.resolve();
  }

  /** Closes the Redis connections; the list keeps answering from what it last knew. */
  close(): Promise<void> {
    return this.sync?.close() ?? Promise.resolve();
  }

  /**
   * Applies a reloaded config's tokenIds and uids, leaving the Redis entries alone. Returns false
   * when `cfg.redis` differs from the settings in force: those are read once and need a restart.
   */
  replaceConfig(cfg: RevocationConfig): boolean {
    this.denylist.setConfig(cfg.tokenIds, cfg.uids);
    return JSON.stringify(cfg.redis ?? null) === this.redisSettings;
  }

  /** Health for a status endpoint or health check. */
  status(): RevocationStatus {
    const counts = this.denylist.counts();
    const redis = this.sync?.status() ?? {
      connected: false,
      lastSyncAt: null,
      syncErrors: 0,
      lastError: null,
    };
    return { ...redis, redis: this.sync !== undefined, tokenIds: counts.tokenIds, uids: counts.uids };
  }
}
