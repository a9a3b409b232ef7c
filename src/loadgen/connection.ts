// One developer's connection to the gateway, as an IDE holds it: a long-lived HTTP/2 session
// (h2c prior knowledge for http:, TLS with ALPN h2 for https:) or an HTTP/1.1 keep-alive agent.
// node:http2 and node:http on purpose: the load generator should look to the gateway like the
// Node-based Copilot language server does, not like a hand-rolled benchmark client.
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { USER_AGENT } from './http-get.js';

/** What a request's owner is told, in order: onResponse, onData…, then onEnd or onError. */
export interface CallHandler {
  onResponse(status: number): void;
  onData(text: string): void;
  onEnd(): void;
  /** A transport failure: the stream was reset, the connection closed, or never opened. */
  onError(code: string): void;
}

/** A request in flight, for whoever cancels it. */
export interface Pending {
  /** HTTP/2: RST_STREAM on this stream only, the connection stays up. */
  reset(): void;
  /** Closes the connection the request runs on (HTTP/1.1's only way to cancel). */
  closeConnection(): void;
}

export interface Connection {
  readonly protocol: 'h2' | 'h1';
  send(path: string, headers: Readonly<Record<string, string>>, body: string, handler: CallHandler): Pending;
  /** Closes everything at once; requests still running end with onError. */
  close(): void;
}

/**
 * Copilot's language server resets with NO_ERROR (0), not CANCEL (8) (docs/protocols.md), so a
 * gateway must treat any reset as a cancel; the load generator sends what real clients send.
 */
const RESET_CODE = http2.constants.NGHTTP2_NO_ERROR;

export function openConnection(url: string, protocol: 'h2' | 'h1', insecure: boolean): Connection {
  return protocol === 'h2' ? new H2Connection(url, insecure) : new H1Connection(url, insecure);
}

class H2Connection implements Connection {
  readonly protocol = 'h2';
  readonly #url: string;
  readonly #insecure: boolean;
  #session: http2.ClientHttp2Session | undefined;
  /** Why the current session failed, for the streams it takes down with it. */
  #sessionError: string | undefined;
  #closed = false;

  constructor(url: string, insecure: boolean) {
    this.#url = url;
    this.#insecure = insecure;
  }

  /** The live session, or a new one (the first request, after a close-cancel, GOAWAY or failure). */
  #sessionNow(): http2.ClientHttp2Session {
    const s = this.#session;
    if (s !== undefined && !s.closed && !s.destroyed) return s;
    const session = http2.connect(this.#url, this.#insecure ? { rejectUnauthorized: false } : {});
    this.#sessionError = undefined;
    session.on('error', (err: NodeJS.ErrnoException) => {
      if (this.#session === session) this.#sessionError = err.code ?? 'session_error';
    });
    // A GOAWAY lets open streams finish; new requests go on a new session.
    session.on('goaway', () => {
      if (this.#session === session) this.#session = undefined;
    });
    this.#session = session;
    return session;
  }

  send(path: string, headers: Readonly<Record<string, string>>, body: string, handler: CallHandler): Pending {
    if (this.#closed) {
      handler.onError('connection_closed');
      return NOTHING;
    }
    const session = this.#sessionNow();
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({ ':method': 'POST', ':path': path, 'user-agent': USER_AGENT, ...headers });
    } catch (err) {
      handler.onError((err as NodeJS.ErrnoException).code ?? 'request_failed');
      return NOTHING;
    }
    let streamError: string | undefined;
    stream.setEncoding('utf8');
    stream.on('response', (h) => handler.onResponse(Number(h[':status'])));
    stream.on('data', (text: string) => handler.onData(text));
    stream.on('end', () => handler.onEnd());
    stream.on('error', (err: NodeJS.ErrnoException) => {
      streamError = err.code ?? 'stream_error';
    });
    // After a clean end the handler ignores this; otherwise it says how the stream died.
    stream.on('close', () =>
      handler.onError(
        this.#sessionError ??
          (stream.rstCode !== undefined && stream.rstCode !== 0
            ? `RST_STREAM_${rstName(stream.rstCode)}`
            : (streamError ?? 'connection_closed')),
      ),
    );
    stream.end(body);
    return {
      reset: () => {
        if (!stream.closed && !stream.destroyed) stream.close(RESET_CODE);
      },
      closeConnection: () => {
        if (this.#session === session) this.#session = undefined;
        session.destroy();
      },
    };
  }

  close(): void {
    this.#closed = true;
    this.#session?.destroy();
    this.#session = undefined;
  }
}

class H1Connection implements Connection {
  readonly protocol = 'h1';
  readonly #url: URL;
  readonly #agent: http.Agent;
  readonly #lib: typeof http | typeof https;
  #closed = false;

  constructor(url: string, insecure: boolean) {
    this.#url = new URL(url);
    const tls = this.#url.protocol === 'https:';
    this.#lib = tls ? https : http;
    // Keep-alive, like an IDE's fetcher: a cancel closes the socket, the next request opens another.
    this.#agent = tls
      ? new https.Agent({ keepAlive: true, ...(insecure ? { rejectUnauthorized: false } : {}) })
      : new http.Agent({ keepAlive: true });
  }

  send(path: string, headers: Readonly<Record<string, string>>, body: string, handler: CallHandler): Pending {
    if (this.#closed) {
      handler.onError('connection_closed');
      return NOTHING;
    }
    const req = this.#lib.request({
      agent: this.#agent,
      protocol: this.#url.protocol,
      hostname: this.#url.hostname,
      port: this.#url.port,
      method: 'POST',
      path,
      headers: { 'user-agent': USER_AGENT, ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    req.on('response', (res) => {
      handler.onResponse(res.statusCode ?? 0);
      res.setEncoding('utf8');
      res.on('data', (text: string) => handler.onData(text));
      res.on('end', () => handler.onEnd());
      res.on('error', () => {});
      res.on('close', () => {
        if (!res.complete) handler.onError('connection_closed');
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => handler.onError(err.code ?? 'request_failed'));
    req.end(body);
    const destroy = (): void => {
      req.destroy(); // the socket goes with it: HTTP/1.1 has no other way to say "stop"
    };
    return { reset: destroy, closeConnection: destroy };
  }

  close(): void {
    this.#closed = true;
    this.#agent.destroy();
  }
}

const NOTHING: Pending = { reset() {}, closeConnection() {} };

function rstName(code: number): string {
  const names: Record<number, string> = {
    1: 'PROTOCOL_ERROR',
    2: 'INTERNAL_ERROR',
    3: 'FLOW_CONTROL_ERROR',
    5: 'STREAM_CLOSED',
    7: 'REFUSED_STREAM',
    8: 'CANCEL',
    11: 'ENHANCE_YOUR_CALM',
  };
  return names[code] ?? String(code);
}
