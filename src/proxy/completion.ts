import type { LimitsConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { Registry } from '../routing/registry.js';
import type { ClientExchange } from '../server/exchange.js';
import type { RequestContext } from './context.js';
import { Relay } from './relay.js';
import { respondError } from './respond.js';
import { upstreamBody } from './upstream-body.js';
import { parseJsonObject, validateCompletionBody } from './validate.js';

/** Which client protocol a completion request arrived in. */
export type ClientFormat = 'copilot' | 'openai';

/**
 * The completion pipeline, top to bottom: check the content type, read the bounded body, parse
 * and validate it, resolve the model, pick a deployment, forward and stream back. Any stage may
 * throw a GatewayError; respondError turns it into the one error shape.
 */
export function createCompletionHandler(registry: Registry, limits: LimitsConfig) {
  return async function completion(
    ex: ClientExchange,
    ctx: RequestContext,
    format: ClientFormat,
    engine: string | undefined,
  ): Promise<void> {
    try {
      requireJson(ex);
      const raw = await ex.readBody(limits.maxBodyBytes, limits.bodyTimeoutMs);
      if (ctx.signal.aborted) return; // the client left while sending; already recorded
      const body = parseJsonObject(raw);
      validateCompletionBody(body, format === 'openai');
      const model = registry.resolve(format === 'copilot' ? engine : (body.model as string));
      ctx.model = model.name;
      const target = registry.pick(model);
      const deployment = target.deployment;
      ctx.deployment = deployment.name;
      const relay = new Relay(ex, ctx);
      relay.control = deployment.dispatcher.dispatch(
        {
          method: 'POST',
          path: target.path,
          headers: { ...deployment.baseHeaders, 'x-request-id': ctx.id },
          body: upstreamBody(raw, body, deployment.adapter, model.upstreamModel),
          signal: ctx.signal,
        },
        relay,
      );
    } catch (err) {
      respondError(ex, ctx, err);
    }
  };
}

/** JSON is the only body we take; a missing content type is accepted (curl -d, old plugins). */
function requireJson(ex: ClientExchange): void {
  const ct = ex.header('content-type');
  if (ct !== undefined && !ct.toLowerCase().includes('json')) {
    throw new GatewayError('GW_UNSUPPORTED_MEDIA_TYPE', { detail: `Got "${ct.slice(0, 64)}".` });
  }
}
