import http2 from 'node:http2';
import type { ResponseHeaders, UpstreamHandler, UpstreamRequest } from './dispatcher.js';
import { codedError, upstreamFailure } from './errors.js';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

/** What an UpstreamStream needs from the pool that opened it. */
export interface StreamOwner<S, C> {
  /** The stream closed: its slot on `session` is free. */
  released(session: S): void;
  /** We reset a stream on `session` (RST_STREAM spends the peer's reset budget). */
  resetSent(session: S): void;
  /** True when the server provably never processed the stream, so sending it again is safe. */
  neverProcessed(session: S, stream: http2.ClientHttp2Stream): boolean;
  /** Sends the request again, on another stream, with `retriesLeft` further tries. */
  resend(req: UpstreamRequest, handler: UpstreamHandler, control: C, retriesLeft: number): void;
}

/**
 * One upstream HTTP/2 stream, turned into the UpstreamHandler's fixed sequence of calls; a fired
 * request signal resets it (RST_STREAM CANCEL) at once. All state lives here and the stream's
 * listeners reference only this object, which lets go of the request and handler when the stream
 * closes. Why: a closed stream stays reachable from its native handle until the next full GC, and
 * whatever its listeners reference (the request body, the parsed prompt, the client exchange)
 * would be copied by every scavenge until then. Dropping those references is cheaper than
 * removing the listeners (removeAllListeners cost ~4 µs per request, with a nextTick each).
 */
export class UpstreamStream<S, C> {
  private done = false;
  private started = false;
  private endSeen = false;
  private req: UpstreamRequest | undefined;
  private handler: UpstreamHandler | undefined;
  private readonly onAbort = (): void => this.abort();

  constructor(
    private readonly owner: StreamOwner<S, C>,
    private readonly session: S,
    private readonly stream: http2.ClientHttp2Stream,
    req: UpstreamRequest,
    handler: UpstreamHandler,
    private readonly control: C,
    private readonly retriesLeft: number,
  ) {
    this.req = req;
    this.handler = handler;
    req.signal.addEventListener('abort', this.onAbort, { once: true });
    stream.on('response', (headers: ResponseHeaders) => this.response(headers));
    stream.on('data', (chunk: Buffer) => this.data(chunk));
    stream.on('end', () => {
      // Not yet a success: when the session dies, Node ends open streams and only the rstCode on
      // 'close' tells a clean END_STREAM (0) from a cut (e.g. 8 after a dropped connection).
      this.endSeen = true;
    });
    stream.on('error', (err: Error) => this.error(err));
    stream.on('close', () => this.close());
  }

  private response(headers: ResponseHeaders): void {
    if (this.done) return;
    this.started = true;
    this.handler?.onResponseStart(Number(headers[':status']), headers);
  }

  private data(chunk: Buffer): void {
    if (this.done) return;
    if (this.handler?.onResponseData(chunk) === false) this.stream.pause();
  }

  private error(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.fail(err);
  }

  /** The consumer wants nothing more: reset the stream; no handler call follows. */
  cancel(): void {
    this.abort();
  }

  private abort(): void {
    if (this.done) return;
    this.done = true;
    // RST_STREAM(CANCEL) goes out on this stream only; the session stays up for other streams.
    this.stream.close(NGHTTP2_CANCEL);
    this.owner.resetSent(this.session);
  }

  private close(): void {
    const req = this.req;
    const handler = this.handler;
    this.req = undefined;
    this.handler = undefined;
    req?.signal.removeEventListener('abort', this.onAbort);
    this.owner.released(this.session);
    if (this.done || req === undefined || handler === undefined) return;
    this.done = true;
    const code = this.stream.rstCode;
    if (this.endSeen && (code === undefined || code === NGHTTP2_NO_ERROR)) {
      handler.onResponseEnd();
      return;
    }
    this.failWith(
      req,
      handler,
      codedError('GW_STREAM_CLOSED', `upstream stream closed (rst ${code ?? 'none'})`),
    );
  }

  private fail(err: unknown): void {
    const { req, handler } = this;
    if (req !== undefined && handler !== undefined) this.failWith(req, handler, err);
  }

  private failWith(req: UpstreamRequest, handler: UpstreamHandler, err: unknown): void {
    if (
      !this.started &&
      this.retriesLeft > 0 &&
      !req.signal.aborted &&
      this.owner.neverProcessed(this.session, this.stream)
    ) {
      this.owner.resend(req, handler, this.control, this.retriesLeft - 1);
      return;
    }
    handler.onResponseError(upstreamFailure(err, this.started));
  }
}
