import { GatewayError } from '../errors/gateway-error.js';
import type { ClientExchange } from '../server/exchange.js';
import type { DispatchControl, ResponseHeaders, UpstreamHandler } from '../upstream/dispatcher.js';
import type { RequestContext } from './context.js';
import { respondError } from './respond.js';

/** Content types a completion may arrive in: SSE, JSON, NDJSON. */
const STREAMABLE = /event-stream|json/i;

/**
 * Streams one upstream response to the client: bytes go out as they arrive, untouched; a slow
 * client pauses the upstream stream (backpressure) instead of buffering without bound.
 * A non-200 upstream answer becomes a gateway error with a stable code at once; the upstream's
 * body is read and dropped, never forwarded (it may echo prompt text or internal details).
 */
export class Relay implements UpstreamHandler {
  control: DispatchControl | undefined;
  private failed = false;
  private readonly resume = (): void => this.control?.resume();

  constructor(
    private readonly ex: ClientExchange,
    private readonly ctx: RequestContext,
  ) {}

  onResponseStart(status: number, headers: ResponseHeaders): void {
    if (status !== 200) {
      this.failed = true;
      respondError(this.ex, this.ctx, statusError(status));
      return;
    }
    const contentType = headers['content-type'];
    if (typeof contentType === 'string' && !STREAMABLE.test(contentType)) {
      // A 200 that is not a completion (an HTML login page, a misrouted URL) must not reach an editor.
      this.failed = true;
      respondError(
        this.ex,
        this.ctx,
        new GatewayError('GW_UPSTREAM_BAD_RESPONSE', {
          detail: `Unexpected content type "${contentType.slice(0, 64)}".`,
        }),
      );
      return;
    }
    this.ex.respond(200, {
      'content-type': typeof contentType === 'string' ? contentType : 'text/event-stream',
      'cache-control': 'no-cache',
      'x-request-id': this.ctx.id,
    });
  }

  onResponseData(chunk: Buffer): boolean {
    if (this.failed) return true;
    const ctx = this.ctx;
    if (ctx.chunks === 0) ctx.markFirstByte();
    ctx.chunks++;
    ctx.bytesOut += chunk.length;
    const ok = this.ex.write(chunk);
    if (!ok) this.ex.onDrain(this.resume);
    return ok;
  }

  onResponseEnd(): void {
    if (this.failed) return;
    this.ex.end();
    this.ctx.finish(200, 'ok');
  }

  onResponseError(err: GatewayError): void {
    if (this.failed) return;
    respondError(this.ex, this.ctx, err);
  }
}

/** Maps an upstream HTTP status to what the client is told. */
export function statusError(status: number): GatewayError {
  const detail = `The model server answered ${status}.`;
  if (status === 429 || status === 503) return new GatewayError('GW_NO_CAPACITY', { detail, retryAfterS: 1 });
  if (status === 408 || status === 504) return new GatewayError('GW_UPSTREAM_TIMEOUT', { detail });
  if (status === 401 || status === 403)
    return new GatewayError('GW_UPSTREAM_ERROR', {
      detail: `The model server refused the gateway's credential (${status}); check the deployment's credential.`,
    });
  if (status >= 400 && status < 500)
    return new GatewayError('GW_UPSTREAM_ERROR', {
      detail: `The model server rejected the request (${status}).`,
      status: 400,
    });
  return new GatewayError('GW_UPSTREAM_ERROR', { detail });
}
