import type { GatewayConfig } from '../config/schema.js';
import { deepFreeze } from '../config/freeze.js';

/** What a reload did: sections now in force for new requests, and changes left for a restart. */
export interface ReloadResult {
  readonly applied: string[];
  readonly needsRestart: string[];
}

/** Config sections that a new generation (server/generation.ts) carries in full. */
const PER_GENERATION = ['deployments', 'models', 'routing', 'protocols', 'policy'] as const;

/**
 * Sorts a reload's changes: what the next generation applies, and what only a restart can change
 * (the sockets we listen on, how clients authenticate, the first-byte limit baked into each
 * listener). Returns the config the next generation runs, in which every change that needs a
 * restart keeps its old value, so the running config never claims something not in force.
 */
export function reloadPlan(
  prev: GatewayConfig,
  next: GatewayConfig,
): { effective: GatewayConfig; applied: string[]; needsRestart: string[] } {
  const differs = (a: unknown, b: unknown): boolean => JSON.stringify(a) !== JSON.stringify(b);
  const applied: string[] = PER_GENERATION.filter((k) => differs(prev[k], next[k]));
  const needsRestart: string[] = [];
  // The addresses stay until a restart; certificates are read again on every reload, from the
  // new paths if only those changed (server/tls-files.ts).
  const sockets = (c: GatewayConfig): unknown =>
    c.listeners.map((l) => [l.host, l.port, l.tls === undefined]);
  const rebind = differs(sockets(prev), sockets(next));
  if (rebind) needsRestart.push('listeners');
  const limits = { ...next.limits, firstByteTimeoutMs: prev.limits.firstByteTimeoutMs };
  if (next.limits.firstByteTimeoutMs !== prev.limits.firstByteTimeoutMs)
    needsRestart.push('limits.firstByteTimeoutMs');
  if (differs(limits, prev.limits)) applied.push('limits');
  // Telemetry is built once per process (its subscriptions, its admin listener).
  const telemetry = differs(prev.telemetry, next.telemetry);
  if (telemetry) needsRestart.push('telemetry');
  const authMode = next.auth.mode !== prev.auth.mode;
  if (authMode) needsRestart.push('auth.mode');
  const effective = deepFreeze({
    ...next,
    listeners: rebind ? prev.listeners : next.listeners,
    limits,
    auth: authMode ? prev.auth : next.auth,
    telemetry: prev.telemetry,
  });
  return { effective, applied, needsRestart };
}
