import { handleCompletion, sendError, type CompletionDeps } from './completion.js';
import type { Exchange } from './exchange.js';

const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' });
const OK_BODY = JSON.stringify({ status: 'ok' });
const ENGINE_PATH = /^\/v1\/engines\/([^/]+)\/completions$/;
/** OpenAI's documented default for /v1/completions, and what Copilot clients send. */
const OPENAI_DEFAULT_MAX_TOKENS = 16;
const COPILOT_DEFAULT_MAX_TOKENS = 500;

export interface RouterDeps extends CompletionDeps {
  resetStats(): void;
  statsJson(): string;
}

/** The simulator's route table; one function per exchange, whichever protocol carried it. */
export function createRouter(deps: RouterDeps): (ex: Exchange) => Promise<void> {
  return async function route(ex: Exchange): Promise<void> {
    try {
      await dispatch(ex, deps);
    } catch (err) {
      // A bug in the simulator should fail the one request loudly, not the process.
      deps.counters.errors++;
      sendError(ex, 500, `Simulator error: ${err instanceof Error ? err.message : String(err)}`, 'internal');
    }
  };
}

async function dispatch(ex: Exchange, deps: RouterDeps): Promise<void> {
  const { path, method } = ex;
  if (path === '/v1/completions') {
    if (!allow(ex, 'POST')) return;
    const defaults = { engine: undefined, maxTokens: OPENAI_DEFAULT_MAX_TOKENS, stream: false };
    await handleCompletion(ex, defaults, deps);
    return;
  }
  const engine = ENGINE_PATH.exec(path)?.[1];
  if (engine !== undefined) {
    if (!allow(ex, 'POST')) return;
    const defaults = { engine: safeDecode(engine), maxTokens: COPILOT_DEFAULT_MAX_TOKENS, stream: true };
    await handleCompletion(ex, defaults, deps);
    return;
  }
  switch (path) {
    case '/healthz':
    case '/health': // vLLM, TGI and llama.cpp answer here; the gateway's active probe defaults to it
      if (allow(ex, 'GET')) ex.respond(200, JSON_HEADERS, OK_BODY);
      return;
    case '/stats':
      if (allow(ex, 'GET')) ex.respond(200, JSON_HEADERS, deps.statsJson());
      return;
    case '/stats/reset':
      if (!allow(ex, 'POST')) return;
      deps.resetStats();
      ex.respond(200, JSON_HEADERS, OK_BODY);
      return;
    default:
      sendError(ex, 404, `No route for ${method} ${path}.`, 'not_found');
  }
}

function allow(ex: Exchange, method: string): boolean {
  if (ex.method === method) return true;
  sendError(ex, 405, `${ex.path} accepts ${method} only.`, 'method_not_allowed', null, { allow: method });
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
