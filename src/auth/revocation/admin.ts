import { Redis } from 'ioredis';
import { encodeEvent, revocationKeys, type RevocationEvent } from './protocol.js';

/**
 * One-shot operations behind `ghostwire token revoke` and friends. Each opens its own connection,
 * does one transaction and closes it: a CLI should fail fast when Redis is down, not retry.
 */

/** What to revoke or un-revoke: a token id, a user id, or both. */
export interface RevocationTarget {
  readonly tid?: string;
  readonly uid?: string;
}

/** Both lists as stored in Redis, sorted. */
export interface RevokedIds {
  readonly tokenIds: string[];
  readonly uids: string[];
}

const CONNECT_TIMEOUT_MS = 5000;

// revoke and unrevoke are async so that a bad target rejects like every other failure
// instead of throwing before a promise exists.

/** Adds the target to the shared denylist and tells every instance; resolves with how many ids were new. */
export async function revoke(redisUrl: string, keyPrefix: string, target: RevocationTarget): Promise<number> {
  return await change(redisUrl, keyPrefix, { op: 'revoke', ...checkTarget('revoke', target) });
}

/** Removes the target from the shared denylist and tells every instance; resolves with how many ids were removed. */
export async function unrevoke(
  redisUrl: string,
  keyPrefix: string,
  target: RevocationTarget,
): Promise<number> {
  return await change(redisUrl, keyPrefix, { op: 'unrevoke', ...checkTarget('unrevoke', target) });
}

/** Reads both shared lists. */
export function listRevoked(redisUrl: string, keyPrefix: string): Promise<RevokedIds> {
  const keys = revocationKeys(keyPrefix);
  return withClient(redisUrl, async (client) => {
    const [tokenIds, uids] = await Promise.all([client.smembers(keys.tids), client.smembers(keys.uids)]);
    return { tokenIds: tokenIds.sort(), uids: uids.sort() };
  });
}

function change(redisUrl: string, keyPrefix: string, event: RevocationEvent): Promise<number> {
  const keys = revocationKeys(keyPrefix);
  return withClient(redisUrl, async (client) => {
    // SADD/SREM and PUBLISH in one MULTI: no instance hears of a change the sets do not hold yet.
    const tx = client.multi();
    for (const [key, id] of [
      [keys.tids, event.tid],
      [keys.uids, event.uid],
    ] as const) {
      if (id === undefined) continue;
      if (event.op === 'revoke') tx.sadd(key, id);
      else tx.srem(key, id);
    }
    tx.publish(keys.events, encodeEvent(event));
    const replies = await tx.exec();
    if (replies === null) throw new Error(`${event.op}: Redis aborted the transaction`);
    let changed = 0;
    // The last reply is PUBLISH's subscriber count, not a set change.
    for (const [err, value] of replies.slice(0, -1)) {
      if (err !== null) throw err;
      if (typeof value === 'number') changed += value;
    }
    const last = replies.at(-1);
    if (last !== undefined && last[0] !== null) throw last[0];
    return changed;
  });
}

function checkTarget(op: string, target: RevocationTarget): RevocationTarget {
  const { tid, uid } = target;
  if (tid === '' || uid === '') throw new TypeError(`${op}: tid and uid must not be empty`);
  if (tid === undefined && uid === undefined) throw new TypeError(`${op}: give a tid, a uid or both`);
  return { ...(tid === undefined ? {} : { tid }), ...(uid === undefined ? {} : { uid }) };
}

async function withClient<T>(redisUrl: string, run: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // One attempt: the operator sees the error now and can run the command again.
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  // connect() rejects with a bare "Connection is closed"; the cause (ECONNREFUSED, WRONGPASS...)
  // arrives as an 'error' event, so keep it for the rejection. The listener also stops ioredis
  // from printing it.
  let lastError: Error | undefined;
  client.on('error', (err: Error) => (lastError = err));
  try {
    try {
      await client.connect();
    } catch (err) {
      throw lastError ?? err;
    }
    return await run(client);
  } finally {
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  }
}
