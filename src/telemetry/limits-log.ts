import { limitsStoreChannel, type LimitsStoreMessage } from '../policy/limits/events.js';

/**
 * Writes the rate-limit store's outages as lines (until structured logs arrive): at most one
 * "unreachable" line per `policy.limits.redis.logIntervalMs` while Redis is down, and one when it
 * answers again. Returns the unsubscribe function.
 */
export function logLimitsStore(write: (line: string) => void): () => void {
  const onMessage = (message: unknown): void => {
    const m = message as LimitsStoreMessage;
    if (m.type === 'unreachable')
      write(
        `ghostwire: rate-limit store unreachable, ${m.failOpen ? 'failing open' : 'failing closed (503)'}: ` +
          `${m.error} (${plural(m.unchecked)} ${m.failOpen ? 'admitted unchecked' : 'refused'} since the last message)\n`,
      );
    else
      write(
        `ghostwire: rate-limit store reachable again after ${(m.downMs / 1000).toFixed(1)} s ` +
          `(${plural(m.unchecked)} not checked meanwhile)\n`,
      );
  };
  limitsStoreChannel.subscribe(onMessage);
  return () => limitsStoreChannel.unsubscribe(onMessage);
}

function plural(n: number): string {
  return `${n} request${n === 1 ? '' : 's'}`;
}
