import type http from 'node:http';
import type http2 from 'node:http2';
import { GatewayError } from '../errors/gateway-error.js';
import type { CancelSignal } from '../proxy/request-signal.js';
import { withNeverIndexed } from '../util/hpack.js';

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
  /**
   * Reads the whole body, bounded in size; rejects with a GatewayError. The request's signal ends
   * the read (client gone, time limit: see RequestContext.armDeadline), rejecting with its reason.
   */
  readBody(maxBytes: number, signal: CancelSignal): Promise<Buffer>;
  /** Reads the body to its end, bounded, dropping each chunk as it arrives so nothing is held. */
  discardBody(maxBytes: number, signal: CancelSignal): Promise<void>;
  /** Sends the status and headers; takes ownership of `headers` (it may be changed). */
  respond(status: number, headers: OutgoingHeaders): void;
  /**
   * A header the answer carries whatever it turns out to be (success, error, superseded): policy
   * that decided something about the request says so (e.g. its experiment arms). Before respond().
   */
  addResponseHeader(name: string, value: string): void;
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

/** Adds policy's headers to an answer's own, which win on a clash (content-type, x-request-id). */
function withAdded(headers: OutgoingHeaders, added: OutgoingHeaders): void {
  for (const name in added) if (!(name in headers)) headers[name] = added[name] as string | number;
}

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Why a read ended early: the signal's own GatewayError, else the client went away. */
function abortReason(signal: CancelSignal): GatewayError {
  return signal.reason instanceof GatewayError ? signal.reason : new GatewayError('GW_CLIENT_CLOSED');
}

/**
 * Collects a request body from a readable, enforcing the size limit as bytes arrive (not after).
 * Two stream listeners and one on the request's signal, which fires when the client goes away
 * (the exchange's own close handling) or a time limit passes: no timer and no close/error
 * listeners of its own on the hot path.
 */
function collect(
  source: NodeJS.ReadableStream,
  declaredLength: string | undefined,
  maxBytes: number,
  signal: CancelSignal,
  keep = true,
): Promise<Buffer> {
  if (declaredLength !== undefined && Number(declaredLength) > maxBytes) {
    return Promise.reject(new GatewayError('GW_BODY_TOO_LARGE', { detail: `Limit: ${maxBytes} bytes.` }));
  }
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        settle(new GatewayError('GW_BODY_TOO_LARGE', { detail: `Limit: ${maxBytes} bytes.` }));
        return;
      }
      if (keep) chunks.push(chunk);
    };
    const onEnd = (): void => settle(undefined);
    const onAbort = (): void => settle(abortReason(signal));
    const settle = (err: GatewayError | undefined): void => {
      source.removeListener('data', onData);
      source.removeListener('end', onEnd);
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    signal.addEventListener('abort', onAbort);
    source.on('data', onData);
    source.on('end', onEnd);
  });
}

/** An HTTP/2 stream (h2 over TLS or h2c). */
export class H2Exchange implements ClientExchange {
  readonly protocol = 'h2' as const;
  readonly method: string;
  readonly path: string;
  private ended = false;
  private abortCb: (() => void) | undefined;
  /** Headers policy added for whatever answer this request gets (addResponseHeader). */
  private added: OutgoingHeaders | undefined;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
  ) {
    this.method = headers[':method'] ?? 'GET';
    const p = headers[':path'] ?? '/';
    const q = p.indexOf('?');
    this.path = q === -1 ? p : p.slice(0, q);
    // A closed stream stays reachable from its native handle until the next full GC, with its
    // listeners: this one holds only the exchange (stream and request headers) once abortCb, the
    // way to the request's context, is dropped.
    stream.on('close', () => {
      const cb = this.ended ? undefined : this.abortCb;
      this.ended = true;
      this.abortCb = undefined;
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

  readBody(maxBytes: number, signal: CancelSignal): Promise<Buffer> {
    return collect(this.stream, this.header('content-length'), maxBytes, signal);
  }

  discardBody(maxBytes: number, signal: CancelSignal): Promise<void> {
    return collect(this.stream, this.header('content-length'), maxBytes, signal, false).then(() => undefined);
  }

  respond(status: number, headers: OutgoingHeaders): void {
    if (this.stream.headersSent || this.stream.destroyed) return;
    // The object is ours (see ClientExchange.respond): no copy, Node copies it once more anyway.
    headers[':status'] = status;
    if (this.added !== undefined) withAdded(headers, this.added);
    this.stream.respond(withNeverIndexed(headers));
  }

  addResponseHeader(name: string, value: string): void {
    (this.added ??= {})[name] = value;
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
  /** Headers policy added for whatever answer this request gets (addResponseHeader). */
  private added: OutgoingHeaders | undefined;

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

  readBody(maxBytes: number, signal: CancelSignal): Promise<Buffer> {
    return collect(this.req, this.header('content-length'), maxBytes, signal);
  }

  discardBody(maxBytes: number, signal: CancelSignal): Promise<void> {
    return collect(this.req, this.header('content-length'), maxBytes, signal, false).then(() => undefined);
  }

  respond(status: number, headers: OutgoingHeaders): void {
    if (this.res.headersSent || this.res.destroyed) return;
    if (this.added !== undefined) withAdded(headers, this.added);
    this.res.writeHead(status, headers);
  }

  addResponseHeader(name: string, value: string): void {
    (this.added ??= {})[name] = value;
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
