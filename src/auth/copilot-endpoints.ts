import { GatewayError } from '../errors/gateway-error.js';
import type { RequestContext } from '../proxy/context.js';
import { respondError, respondJson } from '../proxy/respond.js';
import type { Registry } from '../routing/registry.js';
import type { ClientExchange } from '../server/exchange.js';
import type { AuthService } from './auth-service.js';
import type { Identity } from './identity.js';
import { credentialFromHeader } from './verifiers/verifier.js';

/** Paths a Copilot client calls besides completions, in the order it calls them at start. */
export const COPILOT_PATHS = {
  token: '/copilot_internal/v2/token',
  user: '/copilot_internal/user',
  telemetry: '/telemetry',
  models: '/models',
  v1Models: '/v1/models',
  embeddingModels: '/embeddings/models',
} as const;

// Clients refuse token and user answers without this header ("not from GitHub"); its value is
// our request id, so an operator can find the exchange in the gateway's telemetry.
const GITHUB_REQUEST_ID = 'x-github-request-id';

// The experiment-config answer the Copilot language server accepts as "no experiments".
const NO_EXPERIMENTS = { Configs: [{ Id: 'vscode', Parameters: {} }], AssignmentContext: '' };

// Telemetry events are accepted and dropped as they arrive (never held: the route needs no token,
// so it must cost no memory): they may quote code, and this gateway measures what users feel
// from the requests themselves.
const TELEMETRY_MAX_BYTES = 1024 * 1024;

/**
 * The Copilot client's start-up conversation, answered by the gateway so a stock client works
 * end to end: token exchange, user, experiment config, telemetry sink, model list.
 */
export function createCopilotEndpoints(
  auth: AuthService | undefined,
  registry: Registry,
  bodyTimeoutMs: number,
  /** The public URL of the nearest region with healthy capacity, when regions are configured. */
  nearestRegionUrl: () => string | undefined = () => undefined,
) {
  /**
   * Every URL in `endpoints` names the gateway; any left out sends the client back to GitHub.
   * Completions (`proxy`) go to the nearest healthy region, so clients move at token refresh.
   */
  function endpoints(base: string, proxy = base): Record<string, string> {
    return { api: base, proxy, telemetry: base, 'origin-tracker': base };
  }

  function proxyUrl(base: string): string {
    return nearestRegionUrl()?.replace(/\/+$/, '') ?? base;
  }

  function originOrThrow(ex: ClientExchange): string {
    const origin = ex.origin();
    if (origin === undefined)
      throw new GatewayError('GW_INVALID_REQUEST', {
        detail: 'The Host (or :authority) header is missing or invalid.',
      });
    return origin;
  }

  function requireAuth(): AuthService {
    if (auth === undefined)
      throw new GatewayError('GW_NOT_FOUND', {
        detail: 'Token exchange is off: this gateway runs with auth.mode none.',
      });
    return auth;
  }

  /** Token and user both start here: the long-lived credential in Authorization, checked by the verifier. */
  async function caller(
    ex: ClientExchange,
    ctx: RequestContext,
  ): Promise<{ service: AuthService; origin: string; identity: Identity }> {
    const service = requireAuth();
    const origin = originOrThrow(ex);
    const identity = await service.identify(credentialFromHeader(ex.header('authorization')), ctx.signal);
    return { service, origin, identity };
  }

  async function token(ex: ClientExchange, ctx: RequestContext): Promise<void> {
    try {
      const { service, origin, identity } = await caller(ex, ctx);
      if (ctx.signal.aborted) return;
      const base = service.publicUrl(origin);
      const proxy = proxyUrl(base);
      const issued = service.issue(identity, origin, proxy);
      ctx.identity = { uid: identity.uid, sku: identity.sku, org: identity.org, tokenId: issued.tokenId };
      respondJson(
        ex,
        ctx,
        200,
        {
          // Flags first: a flag named like a field (token, sku...) must never replace it.
          ...flagFields(service.flags),
          token: issued.token,
          expires_at: issued.expiresAt,
          refresh_in: issued.refreshIn,
          sku: identity.sku,
          individual: planOf(identity.sku) === 'individual',
          endpoints: endpoints(base, proxy),
        },
        { [GITHUB_REQUEST_ID]: ctx.id, 'cache-control': 'no-store' },
      );
    } catch (err) {
      respondError(ex, ctx, err);
    }
  }

  async function user(ex: ClientExchange, ctx: RequestContext): Promise<void> {
    try {
      const { service, origin, identity } = await caller(ex, ctx);
      if (ctx.signal.aborted) return;
      respondJson(
        ex,
        ctx,
        200,
        {
          login: identity.login,
          access_type_sku: identity.sku,
          copilot_plan: planOf(identity.sku),
          organization_login_list: identity.org === undefined ? [] : [identity.org],
          chat_enabled: service.flags['chat'] === '1',
          endpoints: endpoints(service.publicUrl(origin), proxyUrl(service.publicUrl(origin))),
        },
        { [GITHUB_REQUEST_ID]: ctx.id, 'cache-control': 'no-store' },
      );
    } catch (err) {
      respondError(ex, ctx, err);
    }
  }

  /** The model list needs a gateway token like completions (it names the deployment's models). */
  function models(ex: ClientExchange, ctx: RequestContext): void {
    if (auth !== undefined) {
      const denied = auth.authenticate(ex.header('authorization'), ctx);
      if (denied !== undefined) return respondError(ex, ctx, denied);
    }
    // The Copilot client validates every entry (version, model_picker_enabled, capabilities
    // with tokenizer and object) and uses the first completion model it finds: config order,
    // so the first model's own name comes first.
    const data = registry
      .names()
      .filter((n) => n !== '*')
      .map((id) => ({
        id,
        name: id,
        version: id,
        object: 'model',
        owned_by: 'ghostwire',
        model_picker_enabled: false,
        capabilities: {
          type: 'completion',
          family: id,
          tokenizer: 'o200k_base',
          object: 'model_capabilities',
        },
      }));
    respondJson(ex, ctx, 200, { object: 'list', data });
  }

  /** No embedding models here; an empty list (not a 404) keeps the client from warning the user. */
  function embeddingModels(ex: ClientExchange, ctx: RequestContext): void {
    respondJson(ex, ctx, 200, { models: [] });
  }

  async function telemetry(ex: ClientExchange, ctx: RequestContext): Promise<void> {
    try {
      if (ex.method === 'GET') return respondJson(ex, ctx, 200, NO_EXPERIMENTS);
      ctx.armDeadline(bodyTimeoutMs, () => {
        const err = new GatewayError('GW_BODY_TIMEOUT');
        ctx.abort(err);
        respondError(ex, ctx, err);
      });
      await ex.discardBody(TELEMETRY_MAX_BYTES, ctx.signal);
      ex.respond(204, { 'x-request-id': ctx.id });
      ex.end();
      ctx.finish(204, 'ok');
    } catch (err) {
      if (ctx.signal.aborted) return; // answered where the signal fired
      respondError(ex, ctx, err);
    }
  }

  return { token, user, models, embeddingModels, telemetry };
}

/** Flags are strings in the token; the JSON answer gives "1"/"0" flags as booleans, like GitHub's. */
function flagFields(flags: Readonly<Record<string, string>>): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const [k, v] of Object.entries(flags)) {
    const name = k.replace(/-/g, '_');
    out[name] = v === '1' ? true : v === '0' ? false : v;
  }
  return out;
}

/** The plan name the client shows, from the sku (copilot_enterprise_seat → enterprise). */
function planOf(sku: string): string {
  if (sku.includes('enterprise')) return 'enterprise';
  if (sku.includes('business')) return 'business';
  return 'individual';
}
