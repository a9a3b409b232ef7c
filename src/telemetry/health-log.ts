import { channels, type HealthEvent } from './events.js';

/**
 * Writes one line per deployment health change (until structured logs arrive): operators see
 * ejections and recoveries as they happen. Returns the unsubscribe function.
 */
export function logHealthChanges(write: (line: string) => void): () => void {
  const onEvent = (message: unknown): void => {
    const e = message as HealthEvent;
    write(`ghostwire: deployment ${e.deployment} (region ${e.region}): ${e.from} -> ${e.to}: ${e.reason}\n`);
  };
  channels.deploymentHealth.subscribe(onEvent);
  return () => channels.deploymentHealth.unsubscribe(onEvent);
}
