// A deliberately minimal HTTP/2 cleartext (prior-knowledge) client for the load generator.
// Why not node:http2: on this 2-core box its client side cost ~190 µs of CPU and tens of KB of
// garbage per streamed request, so the load generator itself took a large share of a core and its
// GC pauses (5–10 ms scavenges) showed up in everyone's p99. This client does only what the
// benchmark needs — POST a body, read :status and DATA — for about half the CPU (~100 µs, most of
// it the kernel's socket work) and almost no garbage:
//   - request headers are HPACK-encoded once per connection (literals with incremental indexing
//     on the first request, then 5 bytes of indexed references), as a real client's encoder does;
//     a request may add headers of its own, pre-encoded once by the caller (encodeHeaders);
//   - of the response headers only :status is decoded (it always comes first): the static-table
//     codes, and literal values, plain or Huffman-coded digits. The server's dynamic table is
//     never needed for that, so it is not tracked;
//   - flow control: we advertise a 2 GiB receive window and replenish it; the connection send
//     window is honoured (bodies wait for WINDOW_UPDATE); a body larger than the peer's stream
//     window is refused rather than half-implemented;
//   - the peer's MAX_CONCURRENT_STREAMS is respected: requests beyond it wait in a local queue;
//   - SETTINGS are acknowledged, PING answered, GOAWAY and RST_STREAM end the affected streams.
import net from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const CANCEL = 0x8;
const MAX_WINDOW = 0x7fffffff;
const DEFAULT_WINDOW = 65535;

/** What a stream's owner is told, in order: status (0 = a non-200 we could not decode), data…, end or error. */
export interface StreamHandler {
  onStatus(status: number): void;
  onData(buf: Buffer, start: number, end: number): void;
  onEnd(): void;
  onError(kind: string): void;
}

// :status entries of the HPACK static table (RFC 7541 Appendix A), by index.
const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

/** Decodes a Huffman-coded string of ASCII digits (RFC 7541 Appendix B); NaN for anything else. */
function huffmanDigits(buf: Buffer, start: number, end: number): number {
  let acc = 0;
  let bits = 0;
  let i = start;
  let value = 0;
  let digits = 0;
  for (;;) {
    while (bits < 6 && i < end) {
      acc = (acc << 8) | buf.readUInt8(i++);
      bits += 8;
    }
    if (bits === 0) break;
    const rest = (1 << bits) - 1;
    if (i === end && bits < 8 && (acc & rest) === rest) break; // EOS padding: all ones
    if (bits < 5) return Number.NaN;
    const five = (acc >> (bits - 5)) & 0x1f;
    if (five <= 2) {
      value = value * 10 + five; // '0' 00000, '1' 00001, '2' 00010
      bits -= 5;
    } else {
      const six = bits >= 6 ? (acc >> (bits - 6)) & 0x3f : -1;
      if (six < 0x19 || six > 0x1f) return Number.NaN;
      value = value * 10 + six - 0x19 + 3; // '3' 011001 … '9' 011111
      bits -= 6;
    }
    acc &= (1 << bits) - 1;
    digits++;
  }
  return digits > 0 ? value : Number.NaN;
}

/** The :status of a response header block, from its first field; 0 when it cannot be told. */
export function decodeStatus(buf: Buffer, start: number, end: number): number {
  let i = start;
  // Skip dynamic-table size updates (001xxxxx, 5-bit prefix integer).
  while (i < end && (buf.readUInt8(i) & 0xe0) === 0x20) {
    if ((buf.readUInt8(i) & 0x1f) === 0x1f) while (++i < end && (buf.readUInt8(i) & 0x80) !== 0);
    i++;
  }
  if (i >= end) return 0;
  const b = buf.readUInt8(i);
  if ((b & 0x80) !== 0) return STATIC_STATUS[b & 0x7f] ?? 0;
  let nameIndex: number;
  if ((b & 0xc0) === 0x40) nameIndex = b & 0x3f;
  else if ((b & 0xe0) === 0) nameIndex = b & 0x0f;
  else return 0;
  if (STATIC_STATUS[nameIndex] === undefined || i + 1 >= end) return 0;
  const lenByte = buf.readUInt8(i + 1);
  const len = lenByte & 0x7f;
  const vStart = i + 2;
  if (len === 0x7f || vStart + len > end) return 0;
  if ((lenByte & 0x80) !== 0) {
    const v = huffmanDigits(buf, vStart, vStart + len);
    return Number.isNaN(v) ? 0 : v;
  }
  const v = Number(buf.toString('latin1', vStart, vStart + len));
  return Number.isInteger(v) ? v : 0;
}

function hpackInt(prefixBits: number, first: number, value: number, out: number[]): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(first | value);
    return;
  }
  out.push(first | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

function hpackLiteral(
  first: number,
  prefixBits: number,
  nameIndex: number,
  value: string,
  out: number[],
): void {
  hpackInt(prefixBits, first, nameIndex, out);
  const bytes = Buffer.from(value, 'latin1');
  hpackInt(7, 0, bytes.length, out);
  for (const byte of bytes) out.push(byte);
}

/**
 * Per-request headers as an HPACK fragment to pass to `request`, encoded once and reused: literals
 * without indexing and with a literal name, so they never touch the dynamic table that the
 * connection's own indexed references point into. Names must be lower-case (HTTP/2).
 */
export function encodeHeaders(headers: Readonly<Record<string, string>>): Buffer {
  const out: number[] = [];
  for (const [name, value] of Object.entries(headers)) {
    out.push(0x00); // literal header field without indexing, new name
    hpackString(name, out);
    hpackString(value, out);
  }
  return Buffer.from(out);
}

function hpackString(text: string, out: number[]): void {
  const bytes = Buffer.from(text, 'latin1');
  hpackInt(7, 0, bytes.length, out); // H = 0: not Huffman-coded
  for (const byte of bytes) out.push(byte);
}

function frame(type: number, flags: number, streamId: number, payload: Buffer | number[]): Buffer {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const f = Buffer.allocUnsafe(9 + p.length);
  f.writeUIntBE(p.length, 0, 3);
  f.writeUInt8(type, 3);
  f.writeUInt8(flags, 4);
  f.writeUInt32BE(streamId, 5);
  p.copy(f, 9);
  return f;
}

/** One h2c connection; `request` may be called once `ready` resolved (the peer's SETTINGS are known). */
export class RawH2Connection {
  readonly ready: Promise<void>;
  /** False once the connection closed or got GOAWAY: open a new one. */
  usable = true;
  private readonly socket: net.Socket;
  private readonly streams = new Map<number, StreamHandler>();
  private readonly ids = new Map<StreamHandler, number>();
  private readonly waiting: { body: Buffer; handler: StreamHandler; extra: Buffer | undefined }[] = [];
  private peerMaxStreams = Number.POSITIVE_INFINITY;
  private nextId = 1;
  private pending: Buffer | undefined;
  private sendWindow = DEFAULT_WINDOW;
  private peerStreamWindow = DEFAULT_WINDOW;
  private maxFrameSize = 16384;
  private peerTableSize = 4096;
  private received = 0;
  private readonly blocked: { id: number; body: Buffer }[] = [];
  private firstBlock: Buffer | undefined;
  private indexedBlock: Buffer | undefined;
  private settingsSeen: () => void = () => {};

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly path: string,
    /** Sent on every request, like a Copilot client's gateway token (indexed after the first). */
    private readonly authorization?: string,
  ) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.settingsSeen = resolve;
      this.socket.once('error', reject);
      this.socket.once('close', () => reject(new Error(`connection to ${host}:${port} closed`)));
    });
    this.ready.catch(() => {});
    // Our SETTINGS: no push, the largest stream window; then open the connection window as wide.
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE
    settings.writeUInt32BE(MAX_WINDOW, 8);
    const inc = Buffer.alloc(4);
    inc.writeUInt32BE(MAX_WINDOW - DEFAULT_WINDOW, 0);
    this.socket.write(
      Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, settings), frame(WINDOW_UPDATE, 0, 0, inc)]),
    );
    this.socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => this.onClose());
  }

  /**
   * Sends POST `path` with `body`. Beyond the peer's SETTINGS_MAX_CONCURRENT_STREAMS the request
   * waits here, first in first out, as nghttp2's client does: opening it anyway is a protocol error.
   * `extra` is a fragment from encodeHeaders, sent after the connection's own headers.
   */
  request(body: Buffer, handler: StreamHandler, extra?: Buffer): void {
    if (!this.usable) return handler.onError('connection_closed');
    if (body.length > this.peerStreamWindow || body.length > this.maxFrameSize) {
      return handler.onError('client_body_too_large');
    }
    if (this.streams.size >= this.peerMaxStreams) this.waiting.push({ body, handler, extra });
    else this.open(body, handler, extra);
  }

  private open(body: Buffer, handler: StreamHandler, extra: Buffer | undefined): void {
    const id = this.nextId;
    this.nextId += 2;
    this.streams.set(id, handler);
    this.ids.set(handler, id);
    const block = this.headerBlock();
    const blockLength = block.length + (extra?.length ?? 0);
    const head = Buffer.allocUnsafe(9 + blockLength + 9);
    head.writeUIntBE(blockLength, 0, 3);
    head.writeUInt8(HEADERS, 3);
    head.writeUInt8(END_HEADERS, 4);
    head.writeUInt32BE(id, 5);
    block.copy(head, 9);
    extra?.copy(head, 9 + block.length);
    if (body.length <= this.sendWindow && this.blocked.length === 0) {
      this.sendWindow -= body.length;
      const d = 9 + blockLength;
      head.writeUIntBE(body.length, d, 3);
      head.writeUInt8(DATA, d + 3);
      head.writeUInt8(END_STREAM, d + 4);
      head.writeUInt32BE(id, d + 5);
      this.socket.cork();
      this.socket.write(head);
      this.socket.write(body);
      this.socket.uncork();
    } else {
      this.socket.write(head.subarray(0, 9 + blockLength));
      this.blocked.push({ id, body });
    }
  }

  /** Resets the handler's stream (RST_STREAM CANCEL), or drops it if still waiting, and reports `kind`. */
  cancel(handler: StreamHandler, kind: string): void {
    const id = this.ids.get(handler);
    if (id === undefined) {
      const i = this.waiting.findIndex((w) => w.handler === handler);
      if (i === -1) return;
      this.waiting.splice(i, 1);
      return handler.onError(kind);
    }
    this.release(id, handler);
    const code = Buffer.alloc(4);
    code.writeUInt32BE(CANCEL, 0);
    if (this.usable) this.socket.write(frame(RST_STREAM, 0, id, code));
    handler.onError(kind);
  }

  /** A stream is over: forget it and let a waiting request take its slot. */
  private release(id: number, handler: StreamHandler): void {
    this.streams.delete(id);
    this.ids.delete(handler);
    while (this.usable && this.waiting.length > 0 && this.streams.size < this.peerMaxStreams) {
      const next = this.waiting.shift();
      if (next !== undefined) this.open(next.body, next.handler, next.extra);
    }
  }

  close(): void {
    this.usable = false;
    this.socket.destroy();
  }

  private headerBlock(): Buffer {
    if (this.indexedBlock !== undefined) return this.indexedBlock;
    const authority = `${this.host}:${this.port}`;
    const auth = this.authorization;
    const out = [0x83, 0x86]; // :method POST, :scheme http (static table)
    if (this.peerTableSize >= 1024) {
      // Incremental indexing: after this block the dynamic table holds (newest first)
      // [authorization (62)], content-type, :path and :authority, and later requests refer to
      // them by index.
      hpackLiteral(0x40, 6, 1, authority, out);
      hpackLiteral(0x40, 6, 4, this.path, out);
      hpackLiteral(0x40, 6, 31, 'application/json', out);
      if (auth !== undefined) hpackLiteral(0x40, 6, 23, auth, out);
      this.firstBlock ??= Buffer.from(out);
      const base = auth === undefined ? 62 : 63;
      const indexed = [0x83, 0x86, 0x80 | (base + 2), 0x80 | (base + 1), 0x80 | base];
      if (auth !== undefined) indexed.push(0x80 | 62);
      this.indexedBlock = Buffer.from(indexed);
      return this.firstBlock;
    }
    hpackLiteral(0x00, 4, 1, authority, out);
    hpackLiteral(0x00, 4, 4, this.path, out);
    hpackLiteral(0x00, 4, 31, 'application/json', out);
    if (auth !== undefined) hpackLiteral(0x00, 4, 23, auth, out);
    this.indexedBlock = Buffer.from(out);
    return this.indexedBlock;
  }

  private onBytes(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let off = 0;
    const n = buf.length;
    while (n - off >= 9) {
      const len = buf.readUIntBE(off, 3);
      if (n - off - 9 < len) break;
      this.onFrame(
        buf.readUInt8(off + 3),
        buf.readUInt8(off + 4),
        buf.readUInt32BE(off + 5) & MAX_WINDOW,
        buf,
        off + 9,
        off + 9 + len,
      );
      off += 9 + len;
    }
    if (off < n) this.pending = buf.subarray(off);
  }

  private onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    switch (type) {
      case DATA: {
        this.received += end - start;
        if (this.received > 1 << 30) this.replenish();
        const h = this.streams.get(id);
        if (h === undefined) return;
        if ((flags & PADDED) !== 0) {
          end -= buf.readUInt8(start);
          start++;
        }
        if (end > start) h.onData(buf, start, end);
        if ((flags & END_STREAM) !== 0) this.finish(id, h);
        return;
      }
      case HEADERS: {
        const h = this.streams.get(id);
        if (h === undefined) return;
        if ((flags & PADDED) !== 0) {
          end -= buf.readUInt8(start);
          start++;
        }
        if ((flags & PRIORITY) !== 0) start += 5;
        h.onStatus(decodeStatus(buf, start, end));
        if ((flags & END_STREAM) !== 0) this.finish(id, h);
        return;
      }
      case RST_STREAM: {
        const h = this.streams.get(id);
        if (h === undefined) return;
        this.release(id, h);
        h.onError(`reset_${buf.readUInt32BE(start)}`);
        return;
      }
      case SETTINGS: {
        if ((flags & ACK) !== 0) return;
        for (let i = start; i + 6 <= end; i += 6) {
          const key = buf.readUInt16BE(i);
          const value = buf.readUInt32BE(i + 2);
          if (key === 0x1) this.peerTableSize = value;
          else if (key === 0x3) this.peerMaxStreams = value;
          else if (key === 0x4) this.peerStreamWindow = value;
          else if (key === 0x5) this.maxFrameSize = value;
        }
        this.socket.write(frame(SETTINGS, ACK, 0, []));
        this.settingsSeen();
        return;
      }
      case PING:
        if ((flags & ACK) === 0) this.socket.write(frame(PING, ACK, 0, buf.subarray(start, end)));
        return;
      case GOAWAY: {
        this.usable = false;
        const last = buf.readUInt32BE(start) & MAX_WINDOW;
        for (const [sid, h] of this.streams) {
          if (sid > last) {
            this.streams.delete(sid);
            this.ids.delete(h);
            h.onError('goaway');
          }
        }
        for (const w of this.waiting.splice(0)) w.handler.onError('goaway');
        return;
      }
      case WINDOW_UPDATE:
        if (id === 0) {
          this.sendWindow += buf.readUInt32BE(start) & MAX_WINDOW;
          this.flushBlocked();
        }
        return;
      default:
        return; // PRIORITY, CONTINUATION (status is in the first fragment), unknown: ignored
    }
  }

  private finish(id: number, h: StreamHandler): void {
    this.release(id, h);
    h.onEnd();
  }

  private replenish(): void {
    const inc = Buffer.alloc(4);
    inc.writeUInt32BE(this.received, 0);
    this.received = 0;
    this.socket.write(frame(WINDOW_UPDATE, 0, 0, inc));
  }

  private flushBlocked(): void {
    while (this.blocked.length > 0) {
      const next = this.blocked[0];
      if (next === undefined || next.body.length > this.sendWindow) return;
      this.blocked.shift();
      this.sendWindow -= next.body.length;
      if (this.streams.has(next.id)) this.socket.write(frame(DATA, END_STREAM, next.id, next.body));
    }
  }

  private onClose(): void {
    this.usable = false;
    const handlers = [...this.streams.values(), ...this.waiting.splice(0).map((w) => w.handler)];
    this.streams.clear();
    this.ids.clear();
    for (const h of handlers) h.onError('connection_closed');
  }
}
