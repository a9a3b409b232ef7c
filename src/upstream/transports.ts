import type { Http1Transport } from './h1-transport.js';

/** The HTTP/1.1 transport class, once loaded. */
export type Http1TransportClass = typeof Http1Transport;

/**
 * Loads the HTTP/1.1 transport (and undici with it) on demand. undici holds ~4 MB of heap once
 * imported; a gateway whose model servers all speak HTTP/2 never uses it, and every full GC of
 * the serving process would mark it anyway (measured: a heap 12 MB larger costs the proxy ~14%
 * more CPU per request and ~6 ms of p99, through longer mark-compact pauses).
 */
export async function loadHttp1Transport(): Promise<Http1TransportClass> {
  return (await import('./h1-transport.js')).Http1Transport;
}
