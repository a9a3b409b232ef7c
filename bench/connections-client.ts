// The client side of the connection-scale benchmark (bench/connections.ts), a process of its own so
// its sockets and CPU are never the proxy's. Driven by JSON commands on stdin, one per line, each
// answered by one JSON line on stdout:
//   {"cmd":"idle","url":U,"count":N}   hold N idle HTTP/2 connections to U (opening or closing some);
//                                      each is a completed handshake: the server's SETTINGS received
//                                      and acknowledged, and ours acknowledged by the server
//   {"cmd":"connect","url":U,"connections":M}
//                                      M connections for streams (handshake done, no stream yet)
//   {"cmd":"streams","streams":K,"maxTokens":T}
//                                      K streaming completions on each of those connections;
//                                      answered once every stream has its status
//   {"cmd":"status"}                   counts so far (see Status)
//   {"cmd":"close"}                    closes everything and exits
// Usage: node dist/bench/connections-client.js (started by bench/connections.ts).
import net from 'node:net';
import { createInterface } from 'node:readline';
import { RawH2Connection, type StreamHandler } from './h2-client.js';
import { requestBodies } from './workload.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const ACK = 0x1;
/** Handshakes in flight at once: more would only overflow the server's accept backlog. */
const OPENING_AT_ONCE = 200;
const HANDSHAKE_TIMEOUT_MS = 10_000;

function frame(type: number, flags: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(9 + payload.length);
  f.writeUIntBE(payload.length, 0, 3);
  f.writeUInt8(type, 3);
  f.writeUInt8(flags, 4);
  payload.copy(f, 9);
  return f;
}
const SETTINGS_ACK = frame(SETTINGS, ACK, Buffer.alloc(0));
// Our SETTINGS: push off, nothing else (the server's defaults for the rest).
const OUR_SETTINGS = frame(SETTINGS, 0, Buffer.from([0, 2, 0, 0, 0, 0]));

/**
 * One idle HTTP/2 connection: preface and SETTINGS sent, the server's SETTINGS acknowledged, PINGs
 * answered; then it sends nothing. Holds no buffers once the handshake is done.
 */
class IdleConnection {
  /** Handshake complete and the socket still open. */
  held = false;
  /** The server sent GOAWAY (it wants the connection gone). */
  goaway = false;
  /** The socket closed after the handshake: the server (or the kernel) dropped an idle connection. */
  droppedAfterHandshake = false;
  private readonly socket: net.Socket;
  private pending: Buffer | undefined;
  private settingsSeen = false;
  private ackSeen = false;

  constructor(host: string, port: number, done: (ok: boolean) => void) {
    let finished = false;
    const finish = (ok: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      this.held = ok;
      if (!ok) this.socket.destroy();
      done(ok);
    };
    const timer = setTimeout(() => finish(false), HANDSHAKE_TIMEOUT_MS);
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.write(Buffer.concat([PREFACE, OUR_SETTINGS]));
    this.socket.on('data', (chunk: Buffer) => {
      this.onBytes(chunk);
      if (this.settingsSeen && this.ackSeen) finish(true);
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      if (this.held) this.droppedAfterHandshake = true;
      this.held = false;
      finish(false);
    });
  }

  close(): void {
    this.held = false;
    this.socket.destroy();
  }

  private onBytes(chunk: Buffer): void {
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    while (buf.length >= 9) {
      const length = buf.readUIntBE(0, 3);
      if (buf.length < 9 + length) break;
      const type = buf.readUInt8(3);
      const flags = buf.readUInt8(4);
      const payload = buf.subarray(9, 9 + length);
      if (type === SETTINGS) {
        if ((flags & ACK) !== 0) this.ackSeen = true;
        else {
          this.settingsSeen = true;
          this.socket.write(SETTINGS_ACK);
        }
      } else if (type === PING && (flags & ACK) === 0) this.socket.write(frame(PING, ACK, payload));
      else if (type === GOAWAY) this.goaway = true;
      buf = buf.subarray(9 + length);
    }
    this.pending = buf.length > 0 ? Buffer.from(buf) : undefined;
  }
}

/** One long streaming completion: counts the SSE events it receives (blank-line terminated). */
class CountingStream implements StreamHandler {
  status = 0;
  ended = false;
  error: string | undefined;
  events = 0;
  private lastWasNewline = false;

  constructor(private readonly onStatusSeen: () => void) {}

  onStatus(status: number): void {
    this.status = status;
    this.onStatusSeen();
  }
  onData(buf: Buffer, start: number, end: number): void {
    for (let i = start; i < end; i++) {
      const isNewline = buf[i] === 0x0a;
      if (isNewline && this.lastWasNewline) this.events++;
      this.lastWasNewline = isNewline;
    }
  }
  onEnd(): void {
    this.ended = true;
  }
  onError(kind: string): void {
    if (this.status === 0) this.onStatusSeen();
    this.error = kind;
  }
}

/** What the client holds, answered to {"cmd":"status"}. */
export interface Status {
  event: 'status';
  /** Idle connections with a completed handshake, still open. */
  idleHeld: number;
  /** Handshakes that failed or timed out. */
  idleFailed: number;
  /** Idle connections the other side closed after the handshake. */
  idleDropped: number;
  /** Idle connections that got GOAWAY. */
  goaways: number;
  /** Streams with status 200 that have neither ended nor failed. */
  streamsOpen: number;
  streamsEnded: number;
  /** Streams that failed, by kind (non-200 status counts as `status_<code>`). */
  streamErrors: Record<string, number>;
  /** SSE events received over all streams so far. */
  events: number;
}

const idle: IdleConnection[] = [];
let idleFailed = 0;
const streamConnections: RawH2Connection[] = [];
const streams: CountingStream[] = [];

async function holdIdle(url: URL, count: number): Promise<void> {
  while (idle.length > count) idle.pop()?.close();
  let opening = 0;
  let wake: () => void = () => {};
  const slot = (): Promise<void> => new Promise((r) => (wake = r));
  while (idle.length < count) {
    while (opening >= OPENING_AT_ONCE) await slot();
    opening++;
    idle.push(
      new IdleConnection(url.hostname, Number(url.port), (ok) => {
        if (!ok) idleFailed++;
        opening--;
        wake();
      }),
    );
  }
  while (opening > 0) await slot();
}

async function connect(url: URL, connections: number): Promise<void> {
  const conns = Array.from(
    { length: connections },
    () => new RawH2Connection(url.hostname, Number(url.port), '/v1/engines/default/completions'),
  );
  streamConnections.push(...conns);
  await Promise.all(conns.map((c) => c.ready));
}

async function openStreams(perConnection: number, maxTokens: number): Promise<void> {
  const bodies = requestBodies(maxTokens);
  const conns = streamConnections;
  let waiting = conns.length * perConnection;
  if (waiting === 0) return;
  let allSeen: () => void = () => {};
  const seen = new Promise<void>((r) => (allSeen = r));
  const onStatus = (): void => {
    if (--waiting === 0) allSeen();
  };
  for (const [i, c] of conns.entries()) {
    for (let k = 0; k < perConnection; k++) {
      const s = new CountingStream(onStatus);
      streams.push(s);
      c.request(bodies[(i * perConnection + k) % bodies.length] ?? Buffer.alloc(0), s);
    }
  }
  await seen;
}

function status(): Status {
  const streamErrors: Record<string, number> = {};
  for (const s of streams) {
    const kind = s.error ?? (s.status !== 0 && s.status !== 200 ? `status_${s.status}` : undefined);
    if (kind !== undefined) streamErrors[kind] = (streamErrors[kind] ?? 0) + 1;
  }
  return {
    event: 'status',
    idleHeld: idle.filter((c) => c.held).length,
    idleFailed,
    idleDropped: idle.filter((c) => c.droppedAfterHandshake).length,
    goaways: idle.filter((c) => c.goaway).length,
    streamsOpen: streams.filter((s) => s.status === 200 && !s.ended && s.error === undefined).length,
    streamsEnded: streams.filter((s) => s.ended).length,
    streamErrors,
    events: streams.reduce((sum, s) => sum + s.events, 0),
  };
}

type Command =
  | { cmd: 'idle'; url: string; count: number }
  | { cmd: 'connect'; url: string; connections: number }
  | { cmd: 'streams'; streams: number; maxTokens: number }
  | { cmd: 'status' }
  | { cmd: 'close' };

const reply = (msg: object): void => void process.stdout.write(JSON.stringify(msg) + '\n');
let work = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const c = JSON.parse(line) as Command;
  // One command at a time, answered in order.
  work = work.then(async () => {
    try {
      if (c.cmd === 'idle') {
        await holdIdle(new URL(c.url), c.count);
        reply(status());
      } else if (c.cmd === 'connect') {
        await connect(new URL(c.url), c.connections);
        reply(status());
      } else if (c.cmd === 'streams') {
        await openStreams(c.streams, c.maxTokens);
        reply(status());
      } else if (c.cmd === 'status') reply(status());
      else {
        for (const conn of idle) conn.close();
        for (const conn of streamConnections) conn.close();
        reply({ event: 'closed' });
        process.exit(0);
      }
    } catch (err) {
      reply({ event: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  });
});
// The orchestrator going away (its end of stdin closes) ends this process too.
lines.on('close', () => process.exit(0));
