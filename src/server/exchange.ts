import type http from 'node:http';
import type http2 from 'node:http2';
import { GatewayError } from '../errors/gateway-error.js';
import { withNeverIndexed } from '../util/hpack.js';
import { releaseListeners } from '../util/release-listeners.js';

export type OutgoingHeaders = Record<string, string | number>;

/**
 * One client request/response, whichever protocol carried it. The pipeline sees only this, so
 * routing, streaming and cancellation are written once for HTTP/2 and HTTP/1.1.
 */
export interface ClientExchange {
  readonly protocol: 'h2' | 'h1';
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /**
   * The base URL the client used (`https://gw.example:8443`), from the TLS state and the
   * :authority / Host header; undefined when that header is missing or not a plain host[:port].
   */
  origin(): string | undefined;
  /** Lower-case header name → first value. */
  header(name: string): string | undefined;
  /** Reads the whole body, bounded in size and time; rejects with a GatewayError. */
  readBody(maxBytes: number, timeoutMs: number): Promise<Buffer>;
  /** Reads the body to its end, bounded, dropping each chunk as it arrives so nothing is held. */
  discardBody(maxBytes: number, timeoutMs: number): Promise<void>;
  respond(status: number, headers: OutgoingHeaders): void;
  /** Returns false when the client's buffer is full; wait for onDrain before writing more. */
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): void;
  onDrain(cb: () => void): void;
  /** Called once if the client goes away (RST_STREAM, connection close) before end() completed. */
  onAbort(cb: () => void): void;
  readonly headersSent: boolean;
  /** True once end() was called or the client went away. */
  readonly closed: boolean;
}

// host or IPv4, or a bracketed IPv6 literal, with an optional port: nothing that could smuggle a
// path, userinfo or markup into a URL we hand back to the client.
const AUTHORITY = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

function originOf(scheme: string, authority: string | undefined): string | undefined {
  if (authority === undefined || !AUTHORITY.test(authority)) return undefined;
  try {
    // The pattern admits port 99999 or a bracketed non-address; the URL parser has the last word.
    return new URL(`${scheme}://${authority}`).origin;
  } catch {
    return undefined;
  }
}

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Collects a request body from a readable, enforcing the size limit as bytes arrive (not after),
 * and a time limit for slow senders.
 */
function collect(
  source: NodeJS.ReadableStream & { destroyed?: boolean },
  declaredLength: string | undefined,
  maxBytes: number,
  timeoutMs: number,
  keep = true,
): Promise<Buffer> {
  if (declaredLength !== undefined && Number(declaredLength) > maxBytes) {
    return Promise.reject(new GatewayError('GW_BODY_TOO_LARGE', { detail: `Limit: ${maxBytes} bytes.` }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => settle(new GatewayError('GW_BODY_TIMEOUT')), timeoutMs);
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        settle(new GatewayError('GW_BODY_TOO_LARGE', { detail: `Limit: ${maxBytes} bytes.` }));
        return;
      }
      if (keep) chunks.push(chunk);
    };
    const onEnd = (): void => settle(undefined);
    const onClose = (): void => settle(new GatewayError('GW_CLIENT_CLOSED'));
    const settle = (err: GatewayError | undefined): void => {
      clearTimeout(timer);
      source.removeListener('data', onData);
      source.removeListener('end', onEnd);
      source.removeListener('close', onClose);
      source.removeListener('error', onClose);
      if (err !== undefined) reject(err);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('close', onClose);
    source.on('error', onClose);
  });
}

/** An HTTP/2 stream (h2 over TLS or h2c). */
export class H2Exchange implements ClientExchange {
  readonly protocol = 'h2' as const;
  readonly method: string;
  readonly path: string;
  private ended = false;
  private abortCb: (() => void) | undefined;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
  ) {
    this.method = headers[':method'] ?? 'GET';
    const p = headers[':path'] ?? '/';
    const q = p.indexOf('?');
    this.path = q === -1 ? p : p.slice(0, q);
    stream.on('close', () => {
      const cb = this.ended ? undefined : this.abortCb;
      this.ended = true;
      this.abortCb = undefined;
      releaseListeners(stream);
      cb?.();
    });
    // A reset stream emits 'error' on some paths; 'close' carries the outcome.
    stream.on('error', () => {});
  }

  header(name: string): string | undefined {
    return firstValue(this.headers[name]);
  }

  origin(): string | undefined {
    const scheme = this.stream.session?.encrypted === true ? 'https' : 'http';
    return originOf(scheme, this.headers[':authority'] ?? this.header('host'));
  }

  readBody(maxBytes: number, timeoutMs: number): Promise<Buffer> {
    return collect(this.stream, this.header('content-length'), maxBytes, timeoutMs);
  }

  discardBody(maxBytes: number, timeoutMs: number): Promise<void> {
    return collect(this.stream, this.header('content-length'), maxBytes, timeoutMs, false).then(
      () => undefined,
    );
  }

  respond(status: number, headers: OutgoingHeaders): void {
    if (this.stream.headersSent || this.stream.destroyed) return;
    this.stream.respond(withNeverIndexed({ ':status': status, ...headers }));
  }

  write(chunk: Buffer | string): boolean {
    if (this.stream.destroyed) return true;
    return this.stream.write(chunk);
  }

  end(chunk?: Buffer | string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.stream.destroyed) return;
    if (chunk === undefined) this.stream.end();
    else this.stream.end(chunk);
  }

  onDrain(cb: () => void): void {
    this.stream.once('drain', cb);
  }

  onAbort(cb: () => void): void {
    this.abortCb = cb;
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get closed(): boolean {
    return this.ended;
  }
}

/** An HTTP/1.1 request/response (cleartext or TLS fallback). */
export class H1Exchange implements ClientExchange {
  readonly protocol = 'h1' as const;
  readonly method: string;
  readonly path: string;
  private ended = false;
  private abortCb: (() => void) | undefined;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
  ) {
    this.method = req.method ?? 'GET';
    const p = req.url ?? '/';
    const q = p.indexOf('?');
    this.path = q === -1 ? p : p.slice(0, q);
    res.on('close', () => {
      // 'close' after the last byte was flushed is the normal end; any other close is the client leaving.
      if (res.writableFinished) return;
      this.ended = true;
      const cb = this.abortCb;
      this.abortCb = undefined;
      cb?.();
    });
  }

  header(name: string): string | undefined {
    return firstValue(this.req.headers[name]);
  }

  origin(): string | undefined {
    const scheme = (this.req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    return originOf(scheme, this.req.headers.host);
  }

  readBody(maxBytes: number, timeoutMs: number): Promise<Buffer> {
    return collect(this.req, this.header('content-length'), maxBytes, timeoutMs);
  }

  discardBody(maxBytes: number, timeoutMs: number): Promise<void> {
    return collect(this.req, this.header('content-length'), maxBytes, timeoutMs, false).then(() => undefined);
  }

  respond(status: number, headers: OutgoingHeaders): void {
    if (this.res.headersSent || this.res.destroyed) return;
    this.res.writeHead(status, headers);
  }

  write(chunk: Buffer | string): boolean {
    if (this.res.destroyed) return true;
    return this.res.write(chunk);
  }

  end(chunk?: Buffer | string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.res.destroyed) return;
    if (chunk === undefined) this.res.end();
    else this.res.end(chunk);
  }

  onDrain(cb: () => void): void {
    this.res.once('drain', cb);
  }

  onAbort(cb: () => void): void {
    this.abortCb = cb;
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get closed(): boolean {
    return this.ended;
  }
}
