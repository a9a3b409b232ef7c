import diagnostics_channel from 'node:diagnostics_channel';

/**
 * Telemetry for the shared denylist. The sync loop publishes; logs, metrics and health checks
 * subscribe. Messages carry counts and timings, never ids: ids are not secret, but the payload
 * stays small and the same size however long the list grows.
 */
export const revocationSyncChannel = diagnostics_channel.channel('ghostwire:auth:revocation-sync');

/** One message on `ghostwire:auth:revocation-sync`. */
export type RevocationSyncMessage =
  /** A full resync (SMEMBERS of both sets) succeeded; `changed` says whether the list moved. */
  | {
      readonly type: 'sync';
      readonly changed: boolean;
      readonly tokenIds: number;
      readonly uids: number;
      readonly durationMs: number;
    }
  /** A resync failed; the last known list stays in force. */
  | { readonly type: 'sync-error'; readonly error: string; readonly syncErrors: number }
  /** A pub/sub event was applied ahead of the next resync. */
  | {
      readonly type: 'event';
      readonly op: 'revoke' | 'unrevoke';
      readonly tokenIds: number;
      readonly uids: number;
    }
  /** Both connections became usable, or one of them was lost. */
  | { readonly type: 'connection'; readonly connected: boolean };

/** Publishes a sync-loop message; it runs off the request path, so building one is no concern. */
export function publishSync(message: RevocationSyncMessage): void {
  if (revocationSyncChannel.hasSubscribers) revocationSyncChannel.publish(message);
}
