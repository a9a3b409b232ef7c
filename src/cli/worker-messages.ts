import type { GatewayConfig } from '../config/schema.js';

/**
 * What `serve --workers N`'s primary and its worker processes say to each other over the cluster
 * IPC channel. The primary resolves and validates the config once (and, for the embedded default,
 * makes the dev credentials and runs the simulator), so every worker serves the same config with
 * the same signing keys: a token one worker issued verifies in every other.
 */
export type ToWorker =
  | { type: 'gw:start'; config: GatewayConfig }
  | { type: 'gw:reload'; seq: number; config: GatewayConfig }
  | { type: 'gw:stop' };

/** What the welcome text needs to know about a started gateway. */
export interface GatewayFacts {
  urls: string[];
  /** The first model name (for the example request). */
  firstModel: string | undefined;
  auth: boolean;
}

export type FromWorker =
  /** Listening for messages: the primary may send the config now. */
  | { type: 'gw:hello' }
  | ({ type: 'gw:ready' } & GatewayFacts)
  | { type: 'gw:start-failed'; message: string; code: string | undefined }
  | { type: 'gw:reloaded'; seq: number; applied: string[]; needsRestart: string[] }
  | { type: 'gw:reload-failed'; seq: number; message: string };

/** A message of this protocol (cluster's own internal messages and anything else are not). */
export function isGwMessage(m: unknown): m is { type: `gw:${string}` } {
  const type = typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined;
  return typeof type === 'string' && type.startsWith('gw:');
}
