import { GatewayError } from '../errors/gateway-error.js';
import type { ClientProtocol } from '../protocol/client/protocol.js';
import type { CompletionRequest } from '../protocol/model.js';
import type { ClientExchange } from '../server/exchange.js';
import type { RequestContext } from './context.js';

/**
 * Ends a request a newer one has replaced (policy/supersession.ts): its signal fires first, so
 * the upstream stream is reset at once and nothing else writes to the client; then the client
 * gets every choice finished as `superseded` in its own format (a whole answer if none was sent
 * yet), and the request is recorded as superseded, not as an error.
 */
export function endSuperseded(
  ex: ClientExchange,
  ctx: RequestContext,
  protocol: ClientProtocol,
  req: CompletionRequest,
  model: string,
): void {
  if (ctx.isFinished || ex.closed) return;
  ctx.abort(new GatewayError('GW_SUPERSEDED'));
  const encoder = protocol.encoder(req, {
    id: `cmpl-${ctx.id}`,
    created: Math.floor(Date.now() / 1000),
    model,
  });
  let body = '';
  for (let index = 0; index < req.n; index++)
    body += encoder.event({ type: 'finish', index, reason: 'superseded' });
  body += encoder.end();
  if (!ex.headersSent) {
    ctx.markFirstByte();
    ex.respond(200, {
      'content-type': encoder.contentType,
      'cache-control': 'no-cache',
      'x-request-id': ctx.id,
      ...(encoder.contentType === 'text/event-stream' ? {} : { 'content-length': Buffer.byteLength(body) }),
    });
  }
  ex.end(body);
  ctx.finish(200, 'superseded', 'GW_SUPERSEDED');
}
