import { handleCompletion, sendError, type CompletionDeps } from './completion.js';
import type { Exchange } from './exchange.js';
import { azure } from './formats/azure.js';
import { codestral } from './formats/codestral.js';
import type { FormatDefaults, WireFormat } from './formats/format.js';
import { llamacppCompletion, llamacppInfill } from './formats/llamacpp.js';
import { OLLAMA_ROOT_BODY, OLLAMA_TAGS_BODY, ollama } from './formats/ollama.js';
import { openai } from './formats/openai.js';
import { tgiGenerate, tgiGenerateStream } from './formats/tgi.js';
import { vllm } from './formats/vllm.js';
import type { ResolvedSimulatorOptions } from './options.js';

/** A completion endpoint: its path and the wire format it speaks there. */
interface RouteLine {
  /** An exact path, or a pattern whose first group is the model the path names (engine, deployment). */
  path: string | RegExp;
  format: WireFormat;
  /** Where the route differs from its format's defaults (Copilot's engine route streams by default). */
  defaults?: Partial<FormatDefaults>;
}

/**
 * The route table: every upstream wire format the gateway has an adapter for, one line each. A new
 * format is a file under formats/ and a line here.
 */
function completionRoutes(options: ResolvedSimulatorOptions): readonly RouteLine[] {
  return [
    { path: '/v1/completions', format: options.rejectSuffix ? vllm : openai },
    {
      path: /^\/v1\/engines\/([^/]+)\/completions$/,
      format: openai,
      defaults: { maxTokens: 500, stream: true },
    },
    { path: /^\/openai\/deployments\/([^/]+)\/completions$/, format: azure },
    { path: '/infill', format: llamacppInfill },
    { path: '/completion', format: llamacppCompletion },
    { path: '/api/generate', format: ollama },
    { path: '/generate', format: tgiGenerate },
    { path: '/generate_stream', format: tgiGenerateStream },
    { path: '/v1/fim/completions', format: codestral },
  ];
}

const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' });
const TEXT_HEADERS = Object.freeze({ 'content-type': 'text/plain; charset=utf-8' });
const OK_BODY = JSON.stringify({ status: 'ok' });

export interface RouterDeps extends CompletionDeps {
  resetStats(): void;
  statsJson(): string;
}

/** Most recent cancels (at most CANCEL_LOG_LIMIT), oldest first: joined with a client's own by request id. */
function cancelsJson(deps: RouterDeps): string {
  return JSON.stringify({ cancels: deps.counters.cancels.records() });
}

/** A route line made ready: the format and its defaults merged once, not per request. */
interface ResolvedRoute {
  format: WireFormat;
  defaults: FormatDefaults;
}

/** The simulator's router; one function per exchange, whichever protocol carried it. */
export function createRouter(deps: RouterDeps): (ex: Exchange) => Promise<void> {
  const exact = new Map<string, ResolvedRoute>();
  const patterns: { pattern: RegExp; route: ResolvedRoute }[] = [];
  for (const line of completionRoutes(deps.options)) {
    const route = { format: line.format, defaults: { ...line.format.defaults, ...line.defaults } };
    if (typeof line.path === 'string') exact.set(line.path, route);
    else patterns.push({ pattern: line.path, route });
  }

  return async function route(ex: Exchange): Promise<void> {
    try {
      await dispatch(ex);
    } catch (err) {
      // A bug in the simulator should fail the one request loudly, not the process.
      deps.counters.errors++;
      sendError(
        ex,
        openai,
        500,
        `Simulator error: ${err instanceof Error ? err.message : String(err)}`,
        'internal',
      );
    }
  };

  async function dispatch(ex: Exchange): Promise<void> {
    const { path } = ex;
    const found = exact.get(path);
    if (found !== undefined) {
      await complete(ex, found, undefined);
      return;
    }
    for (const { pattern, route } of patterns) {
      const model = pattern.exec(path)?.[1];
      if (model !== undefined) {
        await complete(ex, route, safeDecode(model));
        return;
      }
    }
    serveInfo(ex, deps);
  }

  async function complete(ex: Exchange, route: ResolvedRoute, pathModel: string | undefined): Promise<void> {
    if (!allow(ex, 'POST', route.format)) return;
    const { maxTokens, stream } = route.defaults;
    const params = { maxTokens, stream, pathModel, maxTokensCap: deps.options.maxTokens };
    await handleCompletion(ex, route.format, params, deps);
  }
}

/** Everything that is not a completion: health probes, counters, Ollama's model list. */
function serveInfo(ex: Exchange, deps: RouterDeps): void {
  switch (ex.path) {
    case '/healthz':
    case '/health': // vLLM, TGI and llama.cpp answer here; the gateway's active probe defaults to it
      if (allow(ex, 'GET')) ex.respond(200, JSON_HEADERS, OK_BODY);
      return;
    case '/stats':
      if (allow(ex, 'GET')) ex.respond(200, JSON_HEADERS, deps.statsJson());
      return;
    case '/stats/cancels':
      if (allow(ex, 'GET')) ex.respond(200, JSON_HEADERS, cancelsJson(deps));
      return;
    case '/stats/reset':
      if (!allow(ex, 'POST')) return;
      deps.resetStats();
      ex.respond(200, JSON_HEADERS, OK_BODY);
      return;
    case '/': // Ollama's liveness answer
      if (allow(ex, 'GET', ollama)) ex.respond(200, TEXT_HEADERS, OLLAMA_ROOT_BODY);
      return;
    case '/api/tags':
      if (allow(ex, 'GET', ollama)) ex.respond(200, JSON_HEADERS, OLLAMA_TAGS_BODY);
      return;
    default:
      sendError(ex, openai, 404, `No route for ${ex.method} ${ex.path}.`, 'not_found');
  }
}

function allow(ex: Exchange, method: string, format: WireFormat = openai): boolean {
  if (ex.method === method) return true;
  sendError(ex, format, 405, `${ex.path} accepts ${method} only.`, 'method_not_allowed', null, {
    allow: method,
  });
  return false;
}

function safeDecode(segment: string): string {
  if (!segment.includes('%')) return segment; // the usual engine name: nothing to decode
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
