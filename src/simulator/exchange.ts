import type http2 from 'node:http2';
import type http from 'node:http';
import type net from 'node:net';
import type { Readable } from 'node:stream';

/**
 * One request/response pair, whichever protocol carried it. Handlers see only this, so HTTP/2 and
 * HTTP/1.1 share every line of routing and generation.
 */
export interface Exchange {
  readonly protocol: 'h1' | 'h2';
  readonly method: string;
  /** The request path without its query string. */
  readonly path: string;
  /** The query string without its '?' ('' when there is none). */
  readonly query: string;
  /** Request headers, lower-case names, pseudo-headers removed, repeated values joined. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Aborts when the client goes away before the response is finished (reset, close, disconnect).
   * Made on first use: an AbortController and its listeners cost several µs, so the per-request path
   * (body, slot, generation) uses onGone and only a request that has to queue asks for this.
   */
  readonly signal: AbortSignal;
  /**
   * Calls `listener` once when the client goes away before the response is finished; returns a
   * function that cancels the call. Never called if the client is already gone: check isClosed first.
   */
  onGone(listener: () => void): () => void;
  /** True once nothing more can reach the client. Checked before every token. */
  isClosed(): boolean;
  /** performance.now() when the transport reported the client gone; undefined until then. */
  readonly goneAt: number | undefined;
  /** Rejects with BodyTooLargeError or ClientGoneError. */
  readBody(limitBytes: number): Promise<Buffer>;
  /** A complete response in one go. */
  respond(status: number, headers: Readonly<Record<string, string>>, body: string): void;
  /** Sends the headers of a streamed response now, so the client sees them before the first token. */
  startStream(status: number, headers: Readonly<Record<string, string>>): void;
  /** Returns false when the transport buffer is full; wait for onDrain before writing more. */
  write(chunk: string): boolean;
  /** Calls `listener` once at the next drain; returns a function that cancels the wait. */
  onDrain(listener: () => void): () => void;
  end(chunk?: string): void;
  /** Breaks the response abruptly: RST_STREAM(INTERNAL_ERROR) on h2, socket destroy on h1. */
  abort(): void;
}

export class ClientGoneError extends Error {
  readonly code = 'SIM_CLIENT_GONE';
  constructor() {
    super('the client went away');
    this.name = 'ClientGoneError';
  }
}

export class BodyTooLargeError extends Error {
  readonly code = 'SIM_BODY_TOO_LARGE';
  constructor(limitBytes: number) {
    super(`request body exceeds ${limitBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Adapts an http2 core-API stream (the 'stream' event) to an Exchange. */
export function h2Exchange(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Exchange {
  return new H2Exchange(stream, headers);
}

/** Adapts an http.Server request/response pair to an Exchange. */
export function h1Exchange(req: http.IncomingMessage, res: http.ServerResponse): Exchange {
  return new H1Exchange(req, res);
}

/**
 * What both adapters share: noticing that the client went away, telling whoever waits, and reading
 * the body. Classes rather than object literals of closures: one of these is made per request.
 */
abstract class ExchangeBase {
  #finished = false;
  #gone = false;
  #goneAt: number | undefined;
  #listeners: (() => void)[] | undefined;
  #controller: AbortController | undefined;

  /** The transport can no longer carry anything to the client. */
  protected abstract transportClosed(): boolean;

  isClosed(): boolean {
    return this.#gone || this.transportClosed();
  }

  get goneAt(): number | undefined {
    return this.#goneAt;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#gone) this.#controller.abort(new ClientGoneError());
    }
    return this.#controller.signal;
  }

  onGone(listener: () => void): () => void {
    if (this.#gone) return noop;
    const listeners = (this.#listeners ??= []);
    listeners.push(listener);
    return () => {
      const at = listeners.indexOf(listener);
      if (at >= 0) listeners.splice(at, 1);
    };
  }

  /** The response is complete (or deliberately broken): a close from now on is not a cancel. */
  protected markFinished(): void {
    this.#finished = true;
  }

  /** For the transport's close/reset events; idempotent, and ignored once the response is finished. */
  protected readonly clientGone = (): void => {
    if (this.#finished || this.#gone) return;
    this.#gone = true;
    this.#goneAt = performance.now(); // once per cancel: the age /stats reports starts from here
    this.#controller?.abort(new ClientGoneError());
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  };

  protected collectBody(readable: Readable, limitBytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.#gone || readable.destroyed) {
        reject(new ClientGoneError());
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const cleanup = (): void => {
        readable.off('data', onData);
        readable.off('end', onEnd);
        stopWatching();
      };
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size > limitBytes) {
          cleanup();
          readable.resume(); // discard the rest so the response can still be sent
          reject(new BodyTooLargeError(limitBytes));
          return;
        }
        chunks.push(chunk);
      };
      const onEnd = (): void => {
        cleanup();
        // A small body arrives in one chunk (one DATA frame): hand it over without a copy.
        resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size));
      };
      const stopWatching = this.onGone(() => {
        cleanup();
        reject(new ClientGoneError());
      });
      readable.on('data', onData);
      readable.once('end', onEnd);
    });
  }
}

class H2Exchange extends ExchangeBase implements Exchange {
  readonly protocol = 'h2';
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly #stream: http2.ServerHttp2Stream;
  readonly #target: string;

  constructor(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
    super();
    this.#stream = stream;
    this.method = str(headers[':method']);
    this.#target = str(headers[':path']);
    this.path = stripQuery(this.#target);
    this.headers = flattenHeaders(headers);
    // Any RST_STREAM code counts: Copilot clients cancel with NO_ERROR, not CANCEL. 'aborted' comes
    // first on a reset; 'close' covers the rest (session destroyed).
    stream.on('aborted', this.clientGone);
    stream.on('close', this.clientGone);
    // A reset with an error code destroys the stream with an error; without a listener that would crash.
    stream.on('error', ignore);
  }

  get query(): string {
    return queryOf(this.#target);
  }

  protected transportClosed(): boolean {
    return this.#stream.destroyed || this.#stream.closed;
  }

  readBody(limitBytes: number): Promise<Buffer> {
    return this.collectBody(this.#stream, limitBytes);
  }

  respond(status: number, extra: Readonly<Record<string, string>>, body: string): void {
    this.markFinished();
    const stream = this.#stream;
    if (this.isClosed() || stream.headersSent) return;
    stream.respond({ ':status': status, ...extra, 'content-length': String(Buffer.byteLength(body)) });
    stream.end(body);
  }

  startStream(status: number, extra: Readonly<Record<string, string>>): void {
    if (this.isClosed() || this.#stream.headersSent) return;
    this.#stream.respond({ ':status': status, ...extra });
  }

  write(chunk: string): boolean {
    return this.isClosed() ? false : this.#stream.write(chunk);
  }

  onDrain(listener: () => void): () => void {
    return onceEvent(this.#stream, 'drain', listener);
  }

  end(chunk?: string): void {
    this.markFinished();
    if (!this.isClosed()) this.#stream.end(chunk);
  }

  abort(): void {
    this.markFinished();
    // close(code) would first end the stream cleanly (END_STREAM) and the client would see a normal
    // end; destroying with an error sends RST_STREAM(INTERNAL_ERROR) with no END_STREAM before it.
    if (!this.isClosed()) this.#stream.destroy(new Error('simulated abrupt close'));
  }
}

class H1Exchange extends ExchangeBase implements Exchange {
  readonly protocol = 'h1';
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly #req: http.IncomingMessage;
  readonly #res: http.ServerResponse;
  readonly #socket: net.Socket;

  constructor(req: http.IncomingMessage, res: http.ServerResponse) {
    super();
    this.#req = req;
    this.#res = res;
    this.#socket = req.socket;
    this.method = req.method ?? 'GET';
    this.path = stripQuery(req.url ?? '/');
    this.headers = flattenHeaders(req.headers);
    // HTTP/1.1 can only cancel by closing the connection; the response's 'close' reports exactly that.
    res.on('close', this.clientGone);
    req.on('error', ignore);
    res.on('error', ignore);
  }

  get query(): string {
    return queryOf(this.#req.url ?? '');
  }

  protected transportClosed(): boolean {
    return this.#res.destroyed || this.#socket.destroyed || !this.#socket.writable;
  }

  readBody(limitBytes: number): Promise<Buffer> {
    return this.collectBody(this.#req, limitBytes);
  }

  respond(status: number, extra: Readonly<Record<string, string>>, body: string): void {
    this.markFinished();
    const res = this.#res;
    if (this.isClosed() || res.headersSent) return;
    res.writeHead(status, { ...extra, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  }

  startStream(status: number, extra: Readonly<Record<string, string>>): void {
    const res = this.#res;
    if (this.isClosed() || res.headersSent) return;
    res.writeHead(status, extra);
    res.flushHeaders();
  }

  write(chunk: string): boolean {
    return this.isClosed() ? false : this.#res.write(chunk);
  }

  onDrain(listener: () => void): () => void {
    return onceEvent(this.#res, 'drain', listener);
  }

  end(chunk?: string): void {
    this.markFinished();
    if (!this.isClosed()) this.#res.end(chunk);
  }

  abort(): void {
    this.markFinished();
    this.#socket.destroy();
  }
}

function onceEvent(emitter: NodeJS.EventEmitter, event: string, listener: () => void): () => void {
  emitter.once(event, listener);
  return () => {
    emitter.off(event, listener);
  };
}

function flattenHeaders(raw: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  // for-in rather than Object.entries: no array per header, and this runs for every request.
  for (const name in raw) {
    const value = raw[name];
    if (name.charCodeAt(0) === COLON || value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

const COLON = 0x3a;

function stripQuery(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

/** Made on demand: only routes that read the query (Azure's api-version) pay for the slice. */
function queryOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? '' : target.slice(q + 1);
}

function str(v: string | string[] | undefined): string {
  return typeof v === 'string' ? v : '';
}

function ignore(): void {}

function noop(): void {}
