import net from 'node:net';
import { listen } from '../util/listen.js';

/**
 * A userspace stand-in for `tc qdisc ... netem delay`: a TCP relay that forwards bytes both ways
 * and hands each chunk on `delayMs` after it arrived, in order — a propagation delay, not a
 * bandwidth limit. Used where the kernel has no sch_netem (and always for the in-region hop).
 *
 * What it models: data takes `delayMs` one way; a new connection pays a handshake round trip
 * before its first bytes arrive; a peer's FIN or RST reaches the other side `delayMs` later, after
 * the data that preceded it; a refused connect reaches the client as a reset after one round trip.
 * What it does not: the client's connect() itself completes at once (the relay accepts locally).
 */

export interface DelayLinkOptions {
  listenHost: string;
  /** 0 picks a free port. */
  listenPort: number;
  targetHost: string;
  targetPort: number;
  /** One-way delay, each direction. */
  delayMs: number;
}

export interface DelayLink {
  readonly port: number;
  /** Connections open right now. */
  readonly connections: number;
  /** Stops listening and resets every connection. */
  close(): Promise<void>;
}

/** Bytes queued in one direction before the sender is paused (as a TCP window would). */
const HIGH_WATER_BYTES = 1024 * 1024;

const now = (): number => performance.now();

/** Starts a delay link; resolves once it listens. */
export async function startDelayLink(options: DelayLinkOptions): Promise<DelayLink> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = net.connect({
      host: options.targetHost,
      port: options.targetPort,
      allowHalfOpen: true,
      noDelay: true,
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    relay(client, upstream, options.delayMs);
  });
  const port = await listen(server, options.listenPort, options.listenHost);
  return {
    port,
    get connections() {
      return Math.ceil(sockets.size / 2);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) if (!s.destroyed) s.resetAndDestroy();
      }),
  };
}

/** Wires one accepted connection to its upstream, both directions delayed. */
function relay(client: net.Socket, upstream: net.Socket, delayMs: number): void {
  const acceptedAt = now();
  // The client thinks it is connected already; its first bytes still pay the handshake round trip.
  const toUpstream = new DelayedPipe(client, upstream, delayMs, acceptedAt + 2 * delayMs);
  const toClient = new DelayedPipe(upstream, client, delayMs, acceptedAt);
  let connected = false;
  upstream.once('connect', () => (connected = true));
  upstream.on('error', () => {
    if (connected) return; // seen through 'close' below
    // Refused or unreachable: the client learns it one round trip after it connected, as a reset.
    toUpstream.discard();
    toClient.discard();
    const wait = Math.max(0, acceptedAt + 2 * delayMs - now());
    setTimeout(() => {
      if (!client.destroyed) client.resetAndDestroy();
    }, wait).unref();
  });
  client.on('error', () => undefined); // seen through 'close' below
  // A close that was not an orderly FIN is a reset, passed on after the data that preceded it.
  for (const [pipe, from] of [
    [toUpstream, client],
    [toClient, upstream],
  ] as const) {
    from.once('close', (hadError) => {
      if (hadError || !pipe.ended) pipe.reset();
    });
  }
}

type Item = { due: number; chunk: Buffer } | { due: number; end: 'fin' | 'rst' };

/** One direction: chunks read from `from` are written to `to` `delayMs` after they arrived. */
class DelayedPipe {
  /** True once `from` sent FIN. */
  ended = false;
  readonly #from: net.Socket;
  readonly #to: net.Socket;
  readonly #delayMs: number;
  /** Nothing is delivered before this (the handshake). */
  readonly #notBefore: number;
  readonly #queue: Item[] = [];
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(from: net.Socket, to: net.Socket, delayMs: number, notBefore: number) {
    this.#from = from;
    this.#to = to;
    this.#delayMs = delayMs;
    this.#notBefore = notBefore;
    from.on('data', (chunk: Buffer) => this.#push({ due: this.#due(), chunk }));
    from.once('end', () => {
      this.ended = true;
      this.#push({ due: this.#due(), end: 'fin' });
    });
    to.on('drain', () => this.#maybeResume());
    // Writing to a socket that was reset fails; its own pipe passes the reset on, after the delay.
    to.on('error', () => this.discard());
  }

  /** `from` was reset (or closed without FIN): deliver what preceded it, then reset `to`. */
  reset(): void {
    if (this.#done) return;
    this.#push({ due: this.#due(), end: 'rst' });
  }

  /** Drops whatever is queued (the upstream never connected). */
  discard(): void {
    this.#done = true;
    this.#queue.length = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  #due(): number {
    return Math.max(now(), this.#notBefore) + this.#delayMs;
  }

  #push(item: Item): void {
    if (this.#done) return;
    this.#queue.push(item);
    if ('chunk' in item) {
      this.#queuedBytes += item.chunk.length;
      if (this.#queuedBytes + this.#to.writableLength > HIGH_WATER_BYTES) this.#from.pause();
    }
    if (this.#timer === undefined) this.#arm();
  }

  #arm(): void {
    const head = this.#queue[0];
    if (head === undefined) return;
    this.#timer = setTimeout(() => this.#deliver(), Math.max(0, head.due - now()));
  }

  #deliver(): void {
    this.#timer = undefined;
    const t = now();
    let head = this.#queue[0];
    while (head !== undefined && head.due <= t + 0.5 && !this.#done) {
      this.#queue.shift();
      if ('chunk' in head) {
        this.#queuedBytes -= head.chunk.length;
        if (!this.#to.destroyed) this.#to.write(head.chunk);
      } else if (head.end === 'fin') {
        if (!this.#to.destroyed) this.#to.end();
      } else {
        this.#done = true;
        this.#queue.length = 0;
        if (!this.#to.destroyed) this.#to.resetAndDestroy();
      }
      head = this.#queue[0];
    }
    this.#maybeResume();
    if (!this.#done) this.#arm();
  }

  #maybeResume(): void {
    if (this.#from.isPaused() && this.#queuedBytes + this.#to.writableLength <= HIGH_WATER_BYTES / 2)
      this.#from.resume();
  }
}
