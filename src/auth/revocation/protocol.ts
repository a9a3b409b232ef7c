/**
 * What the gateway and the admin CLI agree on in Redis: two sets of revoked ids and one pub/sub
 * channel that announces every change. The sets are the truth; a message only makes instances
 * see a change before their next full resync.
 */

/** The Redis names derived from `revocation.redis.keyPrefix`. */
export interface RevocationKeys {
  /** SET of revoked token ids. */
  readonly tids: string;
  /** SET of revoked user ids. */
  readonly uids: string;
  /** Pub/sub channel carrying one RevocationEvent (JSON) per change. */
  readonly events: string;
}

/** Derives the set and channel names from a key prefix. */
export function revocationKeys(keyPrefix: string): RevocationKeys {
  return { tids: `${keyPrefix}:tids`, uids: `${keyPrefix}:uids`, events: `${keyPrefix}:events` };
}

/** One change announced on the events channel. */
export interface RevocationEvent {
  readonly op: 'revoke' | 'unrevoke';
  readonly tid?: string;
  readonly uid?: string;
}

/** Serialises an event for PUBLISH. */
export function encodeEvent(event: RevocationEvent): string {
  return JSON.stringify(event);
}

/**
 * Parses a message from the events channel; undefined when it is not one we understand (a newer
 * or foreign writer). The caller then resyncs instead of guessing.
 */
export function decodeEvent(message: string): RevocationEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { op, tid, uid } = raw as Record<string, unknown>;
  if (op !== 'revoke' && op !== 'unrevoke') return undefined;
  if (tid !== undefined && (typeof tid !== 'string' || tid === '')) return undefined;
  if (uid !== undefined && (typeof uid !== 'string' || uid === '')) return undefined;
  if (tid === undefined && uid === undefined) return undefined;
  return {
    op,
    ...(tid === undefined ? {} : { tid }),
    ...(uid === undefined ? {} : { uid }),
  };
}

/** Applies an event to a pair of sets, as SADD/SREM did to the Redis sets. */
export function applyEvent(tids: Set<string>, uids: Set<string>, event: RevocationEvent): void {
  if (event.op === 'revoke') {
    if (event.tid !== undefined) tids.add(event.tid);
    if (event.uid !== undefined) uids.add(event.uid);
  } else {
    if (event.tid !== undefined) tids.delete(event.tid);
    if (event.uid !== undefined) uids.delete(event.uid);
  }
}
