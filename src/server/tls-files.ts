import { readFile } from 'node:fs/promises';
import { createSecureContext, type Server as TlsServer } from 'node:tls';
import type { ListenerConfig } from '../config/schema.js';

/** A TLS listener's certificate and key as last read. */
export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * Reads every TLS listener's files (undefined for cleartext ones). Throws, naming the file, if
 * one cannot be read: a reload then changes nothing.
 */
export async function readTlsFiles(listeners: readonly ListenerConfig[]): Promise<(TlsFiles | undefined)[]> {
  return Promise.all(
    listeners.map(async (l) => {
      if (l.tls === undefined) return undefined;
      const read = (file: string): Promise<Buffer> =>
        readFile(file).catch((err: NodeJS.ErrnoException) => {
          throw new Error(`cannot read TLS file ${file} (${err.code ?? 'error'})`);
        });
      return { cert: await read(l.tls.certFile), key: await read(l.tls.keyFile) };
    }),
  );
}

/**
 * Renewed certificates (cert-manager, certbot) take effect without a restart: new handshakes use
 * them, connections already open keep theirs. Returns whether any listener's files changed.
 * Throws, changing nothing, if a new pair does not load (a key that does not match its cert).
 */
export function applyTlsFiles(
  servers: readonly (TlsServer | undefined)[],
  current: (TlsFiles | undefined)[],
  next: readonly (TlsFiles | undefined)[],
): boolean {
  const changed = next.map((n, i) => {
    const c = current[i];
    return n !== undefined && c !== undefined && !(n.cert.equals(c.cert) && n.key.equals(c.key));
  });
  // Every new pair is loaded before any is applied: all listeners change, or none.
  next.forEach((n, i) => {
    if (n === undefined || changed[i] !== true) return;
    try {
      createSecureContext({ cert: n.cert, key: n.key });
    } catch (err) {
      throw new Error(
        `listeners[${i}].tls: the new certificate and key do not load (${(err as Error).message})`,
      );
    }
  });
  next.forEach((n, i) => {
    if (n === undefined || changed[i] !== true) return;
    servers[i]?.setSecureContext({ cert: n.cert, key: n.key });
    current[i] = n;
  });
  return changed.some(Boolean);
}
