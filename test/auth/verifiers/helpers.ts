import assert from 'node:assert/strict';
import http from 'node:http';
import type { ErrorCode } from '../../../src/errors/codes.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { listen } from '../../../src/util/listen.js';

/** Every message in an error's cause chain, so a secret hidden in a wrapped error is found too. */
function causeMessages(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++) {
    parts.push(e.message);
    e = e.cause;
  }
  return parts.join('\n');
}

/**
 * Awaits a rejection and checks it is a GatewayError with `code` that nowhere mentions `secret`:
 * not in its message, detail, JSON form, nor any message down its cause chain.
 */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
  secret: string,
): Promise<GatewayError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof GatewayError, `expected a GatewayError, got ${String(caught)}`);
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  for (const text of [caught.message, caught.detail ?? '', JSON.stringify(caught), causeMessages(caught)])
    assert.ok(!text.includes(secret), 'the credential must not appear in the error');
  return caught;
}

/** A node:http server on 127.0.0.1 port 0, closed with its keep-alive connections. */
export interface LocalServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a plain HTTP server on a free local port. */
export async function localServer(handler: http.RequestListener): Promise<LocalServer> {
  const server = http.createServer(handler);
  const port = await listen(server, 0, '127.0.0.1');
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A URL on which nothing listens: a port that was bound and released. */
export async function deadUrl(): Promise<string> {
  const s = await localServer((_req, res) => res.end());
  await s.close();
  return s.url;
}

/** An AbortSignal that never fires, for calls the test does not cancel. */
export const NEVER: AbortSignal = new AbortController().signal;
