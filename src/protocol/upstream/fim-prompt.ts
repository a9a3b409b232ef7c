import { GatewayError } from '../../errors/gateway-error.js';
import type { CompletionRequest } from '../model.js';
import type { UpstreamTarget } from './adapter.js';

/**
 * What a raw-prompt server (vLLM, TGI) is given for a fill-in-the-middle request: the prompt built
 * with the deployment's FIM template and the template's end-of-fill tokens as extra stops. A
 * request without a suffix is a plain continuation: the prompt as is and no extra stops.
 */
export function fimPrompt(
  req: CompletionRequest,
  t: UpstreamTarget,
): { prompt: string; stop: readonly string[] } | undefined {
  if (req.suffix === undefined) return undefined;
  const template = t.fimTemplate;
  // The config schema requires a template for these adapters; reaching this is a wiring bug.
  if (template === undefined)
    throw new GatewayError('GW_INTERNAL', { detail: 'The deployment has no FIM template.' });
  return { prompt: template.build(req.prompt, req.suffix), stop: template.stop };
}

/**
 * The request's stops, then the extra ones, without duplicates or empty strings, at most `max`.
 * What does not fit is still applied by the gateway (proxy/attempt.ts adds the template's stops to
 * its own filter): the server only stops later, and the gateway cancels it when a stop is seen.
 */
export function mergeStops(own: readonly string[], extra: readonly string[], max: number): string[] {
  const out: string[] = [];
  for (const list of [own, extra])
    for (const s of list) {
      if (out.length === max) return out;
      if (s.length > 0 && !out.includes(s)) out.push(s);
    }
  return out;
}
