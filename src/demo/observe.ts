import { clock, simulatorIdentity } from './protocol.js';

/**
 * What a region's agent watches besides its users: the gateway's /readyz, each simulator's /stats
 * counters, and each simulator's identity (the run id in its completion ids). Plain HTTP/1.1
 * (fetch); every call is bounded by a timeout.
 */

/** Calls `poll` every `periodMs` (never two at once) until the returned stop function is called. */
export function every(periodMs: number, poll: () => Promise<void>): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = (): void => {
    const startedAt = clock();
    void poll()
      .catch(() => undefined)
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, Math.max(0, startedAt + periodMs - clock()));
      });
  };
  loop();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}

/** The gateway's readiness: its status and error code; status 0 when it could not be asked. */
export async function readyz(
  gatewayUrl: string,
  timeoutMs: number,
): Promise<{ status: number; code?: string }> {
  try {
    const res = await fetch(`${gatewayUrl}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    const code = /"code":"([A-Z_]+)"/.exec(text)?.[1];
    return code === undefined ? { status: res.status } : { status: res.status, code };
  } catch {
    return { status: 0, code: 'UNREACHABLE' };
  }
}

/** A simulator's `requests` counter, or undefined while it cannot be reached. */
export async function simulatorRequests(url: string, timeoutMs: number): Promise<number | undefined> {
  try {
    const res = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(timeoutMs) });
    const stats = (await res.json()) as { requests?: unknown };
    return typeof stats.requests === 'number' ? stats.requests : undefined;
  } catch {
    return undefined;
  }
}

/** Asks a simulator for one token and reads its identity from the completion id. */
export async function simulatorIdentityOf(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'default', prompt: 'identify', max_tokens: 1 }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const reply = (await res.json()) as { id?: unknown };
  const id = typeof reply.id === 'string' ? simulatorIdentity(reply.id) : undefined;
  if (id === undefined) throw new Error(`${url}: no simulator id in the completion (status ${res.status})`);
  return id;
}
