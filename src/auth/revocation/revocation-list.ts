import type { RevocationConfig } from '../../config/schema.js';
import { Denylist, type RevocationCheck } from './denylist.js';
import type { RedisRevocationSync, RedisSyncStatus } from './redis-sync.js';

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
  private readonly redis: RevocationConfig['redis'];
  private readonly startTimeoutMs: number;
  /** Created by start(): the Redis client is only loaded when Redis is configured. */
  private sync: RedisRevocationSync | undefined;
  private started: Promise<void> | undefined;
  private closed = false;
  /** The Redis settings in force, to tell a reload that changes them (they need a restart). */
  private readonly redisSettings: string;

  constructor(cfg: RevocationConfig, options: RevocationListOptions = {}) {
    this.denylist.setConfig(cfg.tokenIds, cfg.uids);
    this.redis = cfg.redis;
    this.redisSettings = JSON.stringify(cfg.redis ?? null);
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  }

  /** True when the token id or its user is revoked. Synchronous, two Set lookups, no allocation. */
  isRevoked(tid: string, uid: string): boolean {
    return this.denylist.isRevoked(tid, uid);
  }

  /** Connects to Redis (if configured); resolves after the first resync or the start timeout. Never rejects. */
  start(): Promise<void> {
    this.started ??= this.connect();
    return this.started;
  }

  private async connect(): Promise<void> {
    const redis = this.redis;
    if (redis === undefined) return;
    // ioredis (~1.2 MB of heap) is loaded only by gateways that use Redis; see loadHttp1Transport for why heap matters.
    const { RedisRevocationSync } = await import('./redis-sync.js');
    if (this.closed) return;
    this.sync = new RedisRevocationSync(redis, this.denylist, this.startTimeoutMs);
    await this.sync.start();
  }

  /** Closes the Redis connections; the list keeps answering from what it last knew. */
  async close(): Promise<void> {
    // A start() still importing the client sees `closed` and stops; one already connecting is ended here.
    this.closed = true;
    await this.sync?.close();
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
    return { ...redis, redis: this.redis !== undefined, tokenIds: counts.tokenIds, uids: counts.uids };
  }
}
