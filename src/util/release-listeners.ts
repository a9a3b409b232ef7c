import type { EventEmitter } from 'node:events';

function ignore(): void {}

/**
 * Drops every listener of a finished stream, keeping one no-op 'error' listener so a late error
 * cannot become an uncaught exception. Why: a closed HTTP/2 stream stays reachable from its native
 * handle until the next full GC (young-generation scavenges treat such embedder handles as roots),
 * and our listeners' closures would keep the whole finished request — context, relay, exchange,
 * request objects — alive with it, to be copied and promoted by every scavenge. Measured under
 * load (--trace-gc-nvp): bytes surviving each scavenge fell from 2.5 MB to 1.6–1.8 MB, the naive
 * proxy's level. Call it from the stream's own 'close' listener (emit iterates a copy, so the
 * listeners after this one still run).
 */
export function releaseListeners(stream: EventEmitter): void {
  stream.removeAllListeners();
  stream.on('error', ignore);
}
