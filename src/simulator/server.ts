import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { createCleartextServer } from '../server/cleartext.js';
import { listen, urlHost } from '../util/listen.js';
import type { RecordedRequest } from './completion.js';
import { DecodeBatch } from './batch.js';
import { h1Exchange, h2Exchange } from './exchange.js';
import { createRouter } from './handlers.js';
import { resolveSimulatorOptions, type SimulatorOptions } from './options.js';
import { PrefixCache } from './prefix-cache.js';
import { SlotScheduler } from './scheduler.js';
import type { CancelRecord } from './cancel-log.js';
import { SimulatorCounters, type SimulatorStats } from './stats.js';

/** A running simulator. */
export interface Simulator {
  /** `http://host:port`, for h2c prior-knowledge and HTTP/1.1 alike. */
  url: string;
  port: number;
  stats(): SimulatorStats;
  /** The most recent cancels (at most 10,000), oldest first: what GET /stats/cancels serves. */
  cancels(): CancelRecord[];
  resetStats(): void;
  /** The most recent completion request as received (in-process only; never served over HTTP). */
  lastRequest(): RecordedRequest | undefined;
  /** Stops listening and destroys every open connection, cancelling generations in flight. */
  close(): Promise<void>;
}

/** Longer than clients' own idle timeouts, so the client (not the server) closes idle connections. */
const H1_KEEP_ALIVE_TIMEOUT_MS = 75_000;
const FIRST_BYTE_TIMEOUT_MS = 10_000;
/** The gateway multiplexes many completions over one session; nghttp2 would refuse beyond this. */
const MIN_CONCURRENT_STREAMS = 1000;
/** Per-session buffer budget (MB) for many concurrent streams before nghttp2 answers ENHANCE_YOUR_CALM. */
const H2_SESSION_MEMORY_MB = 64;

/** Starts a simulated model server on one cleartext port (h2c prior knowledge + HTTP/1.1). */
export async function startSimulator(opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const options = resolveSimulatorOptions(opts);
  const counters = new SimulatorCounters();
  const scheduler = new SlotScheduler(options.slots, options.queueLimit);
  let last: RecordedRequest | undefined;
  const stats = (): SimulatorStats => counters.snapshot(scheduler);
  // The cache's contents survive a reset, as a GPU's KV cache would: a reset starts a new
  // measurement (e.g. after a warm-up), it does not cool the server down.
  const resetStats = (): void => {
    counters.reset();
    scheduler.resetPeaks();
  };

  const route = createRouter({
    options,
    counters,
    scheduler,
    batch: new DecodeBatch(),
    prefixCache:
      options.prefixCacheEntries > 0
        ? new PrefixCache(options.prefixCacheEntries, options.prefixChars)
        : undefined,
    record: (r) => {
      last = r;
    },
    resetStats,
    statsJson: () => JSON.stringify(stats()),
  });

  const h2 = http2.createServer({
    maxSessionMemory: H2_SESSION_MEMORY_MB,
    settings: { maxConcurrentStreams: Math.max(MIN_CONCURRENT_STREAMS, options.slots + options.queueLimit) },
  });
  h2.on('stream', function onStream(stream, headers) {
    void route(h2Exchange(stream, headers));
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('error', ignore); // a client vanishing mid-frame is routine here
    session.once('close', () => sessions.delete(session));
  });
  h2.on('sessionError', ignore);

  const h1 = http.createServer(function onRequest(req, res) {
    void route(h1Exchange(req, res));
  });
  h1.keepAliveTimeout = H1_KEEP_ALIVE_TIMEOUT_MS;
  h1.on('clientError', (_err, socket) => socket.destroy());

  const server = createCleartextServer(h2, h1, { firstByteTimeoutMs: FIRST_BYTE_TIMEOUT_MS });
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await listen(server, options.port, options.host);

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(options.host)}:${port}`,
    port,
    stats,
    cancels: () => counters.cancels.records(),
    resetStats,
    lastRequest: () => last,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

function ignore(): void {}
