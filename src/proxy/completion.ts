import type { LimitsConfig, RoutingConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { affinityKey } from '../routing/affinity.js';
import type { Lease } from '../routing/lease.js';
import type { Registry } from '../routing/registry.js';
import type { Router } from '../routing/router.js';
import type { ClientExchange } from '../server/exchange.js';
import { Attempt, type ForwardRequest } from './attempt.js';
import type { RequestContext } from './context.js';
import { respondError } from './respond.js';
import { parseJsonObject } from './validate.js';
import type { Policy } from '../policy/index.js';
import { endSuperseded } from './supersede.js';
import type { ProtocolChoice } from '../protocol/client/index.js';
import type { ClientInfo } from '../protocol/model.js';

/** An explicit affinity key, for clients other than Copilot that know their own session/file. */
export const AFFINITY_HEADER = 'x-ghostwire-affinity';
/** Copilot's editor session id, sent on every completion. */
export const SESSION_HEADER = 'vscode-sessionid';

/**
 * The completion pipeline, top to bottom: check the content type, read the bounded body, parse
 * it, let the client's protocol validate and normalize it, resolve the model, take a deployment
 * (perhaps after a short wait), forward and stream back. Any stage may throw a GatewayError;
 * respondError turns it into the one error shape.
 */
export function createCompletionHandler(
  registry: Registry,
  router: Router,
  limits: LimitsConfig,
  routing: RoutingConfig,
  policy: Policy,
) {
  const promptChars = routing.affinity.enabled ? routing.affinity.promptChars : 0;
  return async function completion(
    ex: ClientExchange,
    ctx: RequestContext,
    choose: ProtocolChoice,
    engine: string | undefined,
  ): Promise<void> {
    try {
      requireJson(ex);
      const raw = await ex.readBody(limits.maxBodyBytes, ctx.signal);
      ctx.bodyReceived();
      const body = parseJsonObject(raw);
      const protocol = choose(body);
      ctx.clientProtocol = protocol.name;
      let req = protocol.decode({ body, raw, engine, client: clientInfo(ex) });
      ctx.editor = req.client.editor;
      ctx.plugin = req.client.plugin;
      // Policy, in order: rewrite rules → experiments → rate limits → supersession → routing.
      // Rewrite rules: the operator's edits, another model, or a refusal the user reads.
      const rewrite = policy.rules?.apply(req, protocol.name, ex, ctx.identity);
      if (rewrite !== undefined) {
        ctx.rules = rewrite.fired;
        if (rewrite.reject !== undefined) throw rewrite.reject;
        req = rewrite.req;
      }
      let model = registry.resolve(req.model);
      // Experiments: the user's arms may change the model, its deployments and sampling parameters.
      const enrolled = policy.experiments.assign(
        ctx.identity?.uid ?? req.client.session,
        model,
        protocol.name,
      );
      if (enrolled !== undefined) ({ req, model } = enrolled.apply(ex, ctx, req, model));
      ctx.model = model.name;
      // Rate limits and quotas: the user's, org's and sku's buckets checked in one step.
      const limited = policy.limiter.admit(ctx);
      if (limited !== undefined) {
        const refused = limited instanceof GatewayError ? limited : await limited;
        if (refused !== undefined) throw refused;
        // The client left or the deadline passed while the shared store answered: already answered.
        if (ctx.signal.aborted) return;
      }
      // A newer request from the same editor and file ends this one's older sibling.
      const supersession = policy.superseder.keyOf({
        header: (name) => ex.header(name),
        uid: ctx.identity?.uid,
        prompt: req.prompt,
      });
      if (supersession !== undefined)
        ctx.onFinish(
          policy.superseder.enter(supersession, {
            supersede: () => endSuperseded(ex, ctx, protocol, req, req.model ?? model.name),
          }),
        );
      // With one deployment there is nothing to choose: skip hashing the prompt.
      const key =
        routing.affinity.enabled && model.targets.length > 1
          ? affinityKey(ex.header(AFFINITY_HEADER), req.client.session, req.prompt, promptChars)
          : undefined;
      let lease: Lease | Promise<Lease> = router.acquire({
        model,
        key,
        exclude: undefined,
        signal: ctx.signal,
        deadlineAt: ctx.deadlineAt,
      });
      if (lease instanceof Promise) {
        const waitFrom = performance.now();
        lease = await lease;
        ctx.queueMs = performance.now() - waitFrom;
      } else ctx.queueMs = 0;
      // A request whose deadline passed while it waited is dropped here: never sent upstream.
      if (ctx.signal.aborted || ctx.expireIfLate()) {
        lease.release('neutral');
        return;
      }
      router.countRequest();
      const fr: ForwardRequest = {
        ex,
        ctx,
        router,
        model,
        req,
        protocol,
        key,
        retries: routing.retries.enabled,
      };
      new Attempt(fr, lease, false).send();
      // Shadows leave after the primary, on the next turn of the event loop: they never delay it.
      if (policy.mirrors.enabled) policy.mirrors.mirror(ex, ctx, req, model, protocol.name);
    } catch (err) {
      // A fired signal (client gone, deadline, body time limit) has been answered where it fired.
      if (ctx.signal.aborted) return;
      respondError(ex, ctx, err);
    }
  };
}

/** What the editor said about itself (Copilot's headers). */
function clientInfo(ex: ClientExchange): ClientInfo {
  return {
    editor: ex.header('editor-version'),
    plugin: ex.header('editor-plugin-version'),
    session: ex.header(SESSION_HEADER),
  };
}

/** JSON is the only body we take; a missing content type is accepted (curl -d, old plugins). */
function requireJson(ex: ClientExchange): void {
  const ct = ex.header('content-type');
  if (ct !== undefined && !ct.toLowerCase().includes('json')) {
    throw new GatewayError('GW_UNSUPPORTED_MEDIA_TYPE', { detail: `Got "${ct.slice(0, 64)}".` });
  }
}
