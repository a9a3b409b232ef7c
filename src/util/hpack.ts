import http2 from 'node:http2';

/**
 * Headers sent never-indexed on HTTP/2. A request id is new on every request: indexed, each one
 * is inserted into both peers' HPACK dynamic table and evicts entries that would have been
 * reused, so every later request pays to encode and decode those again. Credentials must never be
 * indexed either (a compression side channel could reveal them); Node protects `authorization`
 * by itself but not an Azure-style `api-key`.
 */
export const NEVER_INDEXED: readonly string[] = Object.freeze([
  'x-request-id',
  'authorization',
  'proxy-authorization',
  'api-key',
  'x-api-key',
]);

/** Marks NEVER_INDEXED on an HTTP/2 header object (Node reads the list under http2.sensitiveHeaders). */
export function withNeverIndexed<T extends object>(headers: T): T {
  (headers as Record<symbol, readonly string[]>)[http2.sensitiveHeaders] = NEVER_INDEXED;
  return headers;
}
