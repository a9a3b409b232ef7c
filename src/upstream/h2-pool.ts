import http2 from 'node:http2';
import { GatewayError } from '../errors/gateway-error.js';
import { Backoff } from './backoff.js';
import type { Endpoint } from './endpoint.js';
import type {
  DispatchControl,
  Dispatcher,
  DispatcherStats,
  UpstreamHandler,
  UpstreamRequest,
} from './dispatcher.js';
import { codedError, upstreamFailure } from './errors.js';
import { UpstreamStream, type StreamOwner } from './h2-stream.js';
import { ResetBudget } from './reset-budget.js';
import { withNeverIndexed } from '../util/hpack.js';

const { NGHTTP2_REFUSED_STREAM } = http2.constants;

/** Streams we allow on a session before the peer has told us its own limit (RFC 9113 suggests ≥ 100). */
const DEFAULT_PEER_STREAMS = 100;
/** We never put more than this many streams on one session, whatever the peer allows. */
const MAX_STREAMS_PER_SESSION = 1000;

export interface Http2PoolOptions {
  maxSessions: number;
  connectTimeoutMs: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** The upstream's rapid-reset allowance per session (nghttp2 default: 1000, refilled 33/s). */
  resetBurst?: number;
  resetPerSecond?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Requests that may wait for a free stream when every session is full (default 1024). */
  maxQueued?: number;
}

/** A request waiting for a stream slot. */
interface Waiter {
  req: UpstreamRequest;
  handler: UpstreamHandler;
  control: StreamControl;
  retries: number;
  onAbort: () => void;
}

interface PooledSession {
  readonly session: http2.ClientHttp2Session;
  readonly resets: ResetBudget;
  active: number;
  maxStreams: number;
  /** No new streams: GOAWAY received, closing, retired, or failed. */
  draining: boolean;
  /** From the peer's GOAWAY: streams above this id were never processed and are safe to retry. */
  goawayLastStreamId: number | undefined;
  pingTimer: NodeJS.Timeout | undefined;
  pingOutstanding: boolean;
  /** Retired by us to stay within the peer's reset budget: its close is not a failure. */
  retired: boolean;
}

/** Flow control (and an early end) that follows a request across a transparent retry onto another stream. */
class StreamControl implements DispatchControl {
  stream: http2.ClientHttp2Stream | undefined;
  upstream: UpstreamStream<PooledSession, StreamControl> | undefined;
  cancelled = false;
  resume(): void {
    this.stream?.resume();
  }
  cancel(): void {
    this.cancelled = true;
    this.upstream?.cancel();
  }
}

/** pick() found every session at its stream limit and no room for another session. */
const FULL = Symbol('full');

/** How many times a stream the server provably never processed is retried on another session. */
const TRANSPARENT_RETRIES = 1;

/**
 * A small pool of long-lived HTTP/2 sessions to one upstream endpoint. A request goes on the
 * least-busy session with a free stream slot; a new session opens only when every open one is at
 * the peer's MAX_CONCURRENT_STREAMS. Sessions are kept alive with PING; a session that receives
 * GOAWAY, fails, or has spent half its reset budget is drained (its streams finish, no new ones
 * start) and replaced on demand. A stream the server refused or never processed (REFUSED_STREAM,
 * or above a GOAWAY's last stream id) is retried once on another session: nothing reached the
 * model, and nothing reached the client. Failed connects back off exponentially so a dead
 * endpoint fails fast instead of piling up.
 */
export class Http2Pool implements Dispatcher {
  private readonly sessions: PooledSession[] = [];
  private readonly backoff: Backoff;
  private connectsTotal = 0;
  private active = 0;
  private retriesTotal = 0;
  private rotationsTotal = 0;
  private closed = false;
  /** FIFO of requests waiting for a slot (peer limits reached, or settings not yet known). */
  private readonly queue: Waiter[] = [];

  constructor(
    private readonly endpoint: Endpoint,
    private readonly opts: Http2PoolOptions,
  ) {
    this.backoff = new Backoff(opts.backoffBaseMs ?? 100, opts.backoffMaxMs ?? 5000);
  }

  get inflight(): number {
    return this.active;
  }

  get reachable(): boolean {
    return this.sessions.some((ps) => !ps.draining) || this.backoff.waitMs(Date.now()) === 0;
  }

  dispatch(req: UpstreamRequest, handler: UpstreamHandler): DispatchControl {
    const control = new StreamControl();
    this.attempt(req, handler, control, TRANSPARENT_RETRIES);
    return control;
  }

  private attempt(
    req: UpstreamRequest,
    handler: UpstreamHandler,
    control: StreamControl,
    retries: number,
  ): void {
    if (req.signal.aborted || control.cancelled) return;
    const picked = this.pick(req.probe === true);
    if (picked === FULL) {
      this.enqueue(req, handler, control, retries);
      return;
    }
    if (picked instanceof GatewayError) {
      process.nextTick(() => {
        if (!req.signal.aborted) handler.onResponseError(picked);
      });
      return;
    }
    let stream: http2.ClientHttp2Stream;
    try {
      const headers = withNeverIndexed({ ':method': req.method, ':path': req.path, ...req.headers });
      // With a body (every completion), no options object: Node's default for POST is the same,
      // and its per-request options handling showed up at ~3% of the gateway's CPU in profiles.
      stream =
        req.body === undefined
          ? picked.session.request(headers, { endStream: true })
          : picked.session.request(headers);
    } catch (err) {
      // The session died between pick and request (GOAWAY, destroyed): nothing was sent.
      this.drain(picked);
      if (retries > 0) {
        this.retriesTotal++;
        this.attempt(req, handler, control, retries - 1);
        return;
      }
      const failure = upstreamFailure(err, false);
      process.nextTick(() => {
        if (!req.signal.aborted) handler.onResponseError(failure);
      });
      return;
    }
    control.stream = stream;
    picked.active++;
    this.active++;
    control.upstream = new UpstreamStream(this.streams, picked, stream, req, handler, control, retries);
    if (req.body !== undefined) stream.end(req.body);
  }

  /** What each UpstreamStream calls back into. */
  private readonly streams: StreamOwner<PooledSession, StreamControl> = {
    released: (ps) => {
      ps.active--;
      this.active--;
      this.pump();
    },
    resetSent: (ps) => {
      if (ps.resets.spend(Date.now()) && !ps.draining) {
        this.rotationsTotal++;
        ps.retired = true;
        this.drain(ps);
      }
    },
    neverProcessed: (ps, stream) => {
      if (stream.rstCode === NGHTTP2_REFUSED_STREAM) return true;
      const last = ps.goawayLastStreamId;
      return last !== undefined && (stream.id === undefined || stream.id > last);
    },
    resend: (req, handler, control, retriesLeft) => {
      this.retriesTotal++;
      this.attempt(req, handler, control, retriesLeft);
    },
  };

  /** Parks a request until a stream slot frees up; a full queue is GW_NO_CAPACITY. */
  private enqueue(
    req: UpstreamRequest,
    handler: UpstreamHandler,
    control: StreamControl,
    retries: number,
  ): void {
    if (this.queue.length >= (this.opts.maxQueued ?? 1024)) {
      const err = new GatewayError('GW_NO_CAPACITY', {
        detail: 'All upstream HTTP/2 streams are in use.',
        retryAfterS: 1,
      });
      process.nextTick(() => {
        if (!req.signal.aborted) handler.onResponseError(err);
      });
      return;
    }
    const waiter: Waiter = {
      req,
      handler,
      control,
      retries,
      // A request cancelled while it waits just leaves the queue: nothing was sent.
      onAbort: () => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
      },
    };
    req.signal.addEventListener('abort', waiter.onAbort, { once: true });
    this.queue.push(waiter);
  }

  /** Moves waiting requests onto streams while there is room (a free slot, or room for a session). */
  private pump(): void {
    while (this.queue.length > 0 && !this.closed && this.hasRoom()) {
      const w = this.queue.shift() as Waiter;
      w.req.signal.removeEventListener('abort', w.onAbort);
      this.attempt(w.req, w.handler, w.control, w.retries);
    }
  }

  private hasRoom(): boolean {
    if (this.sessions.length < this.opts.maxSessions) return true;
    for (const ps of this.sessions) {
      if (!ps.draining && !ps.session.destroyed && ps.active < ps.maxStreams) return true;
    }
    return false;
  }

  /** The least-busy usable session, a new one, FULL, or the reason there is none. */
  private pick(probe: boolean): PooledSession | GatewayError | typeof FULL {
    if (this.closed) return new GatewayError('GW_SHUTTING_DOWN');
    let best: PooledSession | undefined;
    for (const ps of this.sessions) {
      if (ps.draining || ps.session.destroyed || ps.active >= ps.maxStreams) continue;
      if (best === undefined || ps.active < best.active) best = ps;
    }
    if (best !== undefined) return best;
    if (this.sessions.length >= this.opts.maxSessions) return FULL;
    const wait = this.backoff.waitMs(Date.now());
    if (wait > 0 && !probe) {
      return new GatewayError('GW_UPSTREAM_UNAVAILABLE', {
        detail: `Reconnecting after ${this.backoff.consecutiveFailures} failed attempt(s); next in ${wait} ms.`,
        retryAfterS: Math.ceil(wait / 1000),
      });
    }
    return this.connect();
  }

  private connect(): PooledSession {
    const ep = this.endpoint;
    const session = http2.connect(ep.origin, {
      settings: { enablePush: false },
      ...(ep.tls
        ? {
            ...(ep.ca === undefined ? {} : { ca: ep.ca }),
            ...(ep.servername === undefined ? {} : { servername: ep.servername }),
            rejectUnauthorized: ep.rejectUnauthorized,
          }
        : {}),
    });
    const ps: PooledSession = {
      session,
      resets: new ResetBudget(this.opts.resetBurst ?? 1000, this.opts.resetPerSecond ?? 33, Date.now()),
      goawayLastStreamId: undefined,
      active: 0,
      maxStreams: DEFAULT_PEER_STREAMS,
      draining: false,
      pingTimer: undefined,
      pingOutstanding: false,
      retired: false,
    };
    this.sessions.push(ps);
    this.connectsTotal++;
    let connected = false;

    const connectTimer = setTimeout(() => {
      session.destroy(
        codedError('GW_CONNECT_TIMEOUT', `connect timed out after ${this.opts.connectTimeoutMs} ms`),
      );
    }, this.opts.connectTimeoutMs);
    connectTimer.unref();

    session.once('connect', () => {
      clearTimeout(connectTimer);
      connected = true;
      this.backoff.succeed();
      if (ep.tls && session.alpnProtocol !== 'h2') {
        session.destroy(
          codedError('GW_NO_H2', 'TLS upstream did not negotiate h2; set protocol: h1 for this deployment'),
        );
        return;
      }
      this.startPing(ps);
      this.pump();
    });
    session.on('remoteSettings', (settings: http2.Settings) => {
      ps.maxStreams = Math.min(
        settings.maxConcurrentStreams ?? MAX_STREAMS_PER_SESSION,
        MAX_STREAMS_PER_SESSION,
      );
      this.pump();
    });
    session.on('goaway', (_code: number, lastStreamId: number) => {
      // The peer takes no new streams here; streams up to lastStreamId may finish, later ones are retried.
      ps.goawayLastStreamId = lastStreamId;
      this.drain(ps);
    });
    session.on('error', () => {
      // Stream errors reach their own handlers; here we only stop using the session.
      this.drain(ps);
    });
    session.on('close', () => {
      clearTimeout(connectTimer);
      // A failed connect backs off; so does losing a live session without GOAWAY (the server
      // process died, the link dropped: RFC 9113 asks a server to send GOAWAY before it closes).
      // Then the pool fails fast for a moment and a retry goes to another deployment instead of
      // a server that is most likely gone; a probe or the next connect after the backoff finds out.
      const lost = connected && ps.goawayLastStreamId === undefined && !ps.retired;
      if ((!connected || lost) && !this.closed) this.backoff.fail(Date.now());
      this.drain(ps);
    });
    return ps;
  }

  private startPing(ps: PooledSession): void {
    const timer = setInterval(() => {
      if (ps.pingOutstanding || ps.draining) return;
      ps.pingOutstanding = true;
      const deadline = setTimeout(() => {
        ps.session.destroy(codedError('GW_PING_TIMEOUT', 'upstream did not answer PING'));
      }, this.opts.pingTimeoutMs);
      deadline.unref();
      try {
        ps.session.ping((err) => {
          clearTimeout(deadline);
          ps.pingOutstanding = false;
          if (err !== null) this.drain(ps);
        });
      } catch {
        clearTimeout(deadline);
        this.drain(ps);
      }
    }, this.opts.pingIntervalMs);
    timer.unref();
    ps.pingTimer = timer;
  }

  /** Takes a session out of rotation: no new streams; it closes once its streams finish. */
  private drain(ps: PooledSession): void {
    ps.draining = true;
    if (ps.pingTimer !== undefined) {
      clearInterval(ps.pingTimer);
      ps.pingTimer = undefined;
    }
    const i = this.sessions.indexOf(ps);
    if (i >= 0) this.sessions.splice(i, 1);
    if (!ps.session.closed && !ps.session.destroyed) ps.session.close();
    // Removing a session makes room for a new one; let waiting requests open it.
    if (i >= 0) process.nextTick(() => this.pump());
  }

  stats(): DispatcherStats {
    return {
      connections: this.sessions.length,
      connectsTotal: this.connectsTotal,
      active: this.active,
      retriesTotal: this.retriesTotal,
      rotationsTotal: this.rotationsTotal,
      queued: this.queue.length,
      backingOff: this.backoff.waitMs(Date.now()) > 0,
    };
  }

  /** Requests still waiting when the pool closes are told so, not left hanging. */
  private failQueued(): void {
    const err = new GatewayError('GW_SHUTTING_DOWN');
    for (const w of this.queue.splice(0)) {
      w.req.signal.removeEventListener('abort', w.onAbort);
      if (!w.req.signal.aborted) w.handler.onResponseError(err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failQueued();
    const all = [...this.sessions];
    await Promise.all(
      all.map(
        (ps) =>
          new Promise<void>((resolve) => {
            if (ps.session.closed || ps.session.destroyed) return resolve();
            ps.session.once('close', () => resolve());
            this.drain(ps);
          }),
      ),
    );
  }

  destroy(): void {
    this.closed = true;
    this.failQueued();
    for (const ps of [...this.sessions]) {
      this.drain(ps);
      ps.session.destroy();
    }
  }
}
