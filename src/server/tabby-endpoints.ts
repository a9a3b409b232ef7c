import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { AuthService } from '../auth/auth-service.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { RequestContext } from '../proxy/context.js';
import { respondError, respondJson } from '../proxy/respond.js';
import type { Registry } from '../routing/registry.js';
import type { ClientExchange } from './exchange.js';

/** The routes Tabby's clients call besides `/v1/completions` (protocol/client/tabby.ts). */
export const TABBY_PATHS = {
  health: '/v1/health',
  events: '/v1/events',
} as const;

/** Completion events (view, select, dismiss) are a few hundred bytes; anything larger is not one. */
const EVENT_MAX_BYTES = 64 * 1024;

/**
 * Tabby's health and event routes, behind the gateway's bearer auth like every completion route
 * (a 401 tells tabby-agent to ask the user for a token).
 *
 * `GET /v1/health` (older clients retry with POST after a 405, so both are answered) is Tabby's
 * HealthState: clients offer completions only when `model` is set, so it is set only while the
 * configured Tabby model resolves; `chat_model` is left out (the gateway serves no chat), which
 * turns the clients' chat features off. `device` is `remote`: the model runs on the deployments,
 * not here, and clients only treat `cpu` specially. `version.git_describe` names ghostwire's
 * version, which tabby-agent reads as older than Tabby 0.9 and so skips fetching
 * `/v1beta/server_setting`, a route the gateway does not have.
 *
 * `POST /v1/events` takes the clients' completion events and drops them: read to the end
 * (bounded), answered 200 with no body, as Tabby's server answers.
 */
export function createTabbyEndpoints(
  auth: AuthService | undefined,
  registry: Registry,
  tabbyModel: string,
  bodyTimeoutMs: number,
) {
  function denied(ex: ClientExchange, ctx: RequestContext): boolean {
    const refusal = auth?.authenticate(ex.header('authorization'), ctx);
    if (refusal === undefined) return false;
    respondError(ex, ctx, refusal);
    return true;
  }

  function health(ex: ClientExchange, ctx: RequestContext): void {
    if (denied(ex, ctx)) return;
    let model: string | undefined;
    try {
      model = registry.resolve(tabbyModel).name;
    } catch {
      model = undefined; // GW_UNKNOWN_MODEL: completions would fail, so the clients must not offer them
    }
    respondJson(ex, ctx, 200, { ...(model === undefined ? {} : { model }), ...hostFacts() });
  }

  async function events(ex: ClientExchange, ctx: RequestContext): Promise<void> {
    if (denied(ex, ctx)) return;
    try {
      ctx.armDeadline(bodyTimeoutMs, () => {
        const err = new GatewayError('GW_BODY_TIMEOUT');
        ctx.abort(err);
        respondError(ex, ctx, err);
      });
      await ex.discardBody(EVENT_MAX_BYTES, ctx.signal);
      ex.respond(200, { 'content-length': 0, 'x-request-id': ctx.id });
      ex.end();
      ctx.finish(200, 'ok');
    } catch (err) {
      if (ctx.signal.aborted) return; // answered where the signal fired
      respondError(ex, ctx, err);
    }
  }

  return { health, events };
}

let facts: Record<string, unknown> | undefined;

/** The parts of Tabby's HealthState about the host and build, computed once. */
function hostFacts(): Record<string, unknown> {
  if (facts !== undefined) return facts;
  const cpus = os.cpus();
  const version = ghostwireVersion();
  facts = {
    device: 'remote',
    arch: RUST_ARCH[process.arch] ?? process.arch,
    cpu_info: cpus[0]?.model ?? 'unknown',
    cpu_count: cpus.length,
    cuda_devices: [],
    version: {
      build_date: '',
      build_timestamp: '',
      git_sha: '',
      git_describe: `ghostwire-v${version}`,
    },
  };
  return facts;
}

/** Tabby reports Rust's names for the CPU architecture. */
const RUST_ARCH: Readonly<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'x86' };

function ghostwireVersion(): string {
  try {
    // dist/src/server/ → the package root; read once, at the first health check.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
