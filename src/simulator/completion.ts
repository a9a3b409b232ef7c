import type { DecodeBatch } from './batch.js';
import { BodyTooLargeError, type Exchange } from './exchange.js';
import { runGeneration, type GenerationOutcome } from './generation.js';
import type { ResolvedSimulatorOptions } from './options.js';
import type { PrefixCache } from './prefix-cache.js';
import { parseCompletionRequest, type RouteDefaults } from './request.js';
import { QueueFullError, type SlotLease, type SlotScheduler } from './scheduler.js';
import { CompletionEncoder, completionId, errorJson } from './sse.js';
import type { SimulatorCounters } from './stats.js';

/** What crossed the wire for the most recent completion request (in-process only; auth verbatim). */
export interface RecordedRequest {
  path: string;
  headers: Record<string, string>;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body: unknown;
}

export interface CompletionDeps {
  options: ResolvedSimulatorOptions;
  counters: SimulatorCounters;
  scheduler: SlotScheduler;
  /** The decode loop every generation of this simulator runs in. */
  batch: DecodeBatch;
  /** Undefined when disabled (prefixCacheEntries 0): no lookups, no hit or miss counted. */
  prefixCache: PrefixCache | undefined;
  record(request: RecordedRequest): void;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const MAX_TTFT_OVERRIDE_MS = 10 * 60 * 1000;
const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' });

/**
 * A completion request from arrival to its last byte: read and record the body, apply injected
 * faults, validate, wait for a slot, generate. Every request ends in exactly one counter.
 */
export async function handleCompletion(
  ex: Exchange,
  route: RouteDefaults,
  deps: CompletionDeps,
): Promise<void> {
  const { counters } = deps;
  counters.requests++;

  let raw: Buffer;
  try {
    raw = await ex.readBody(MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      counters.errors++;
      sendError(ex, 413, err.message, 'body_too_large');
    } else {
      counters.cancelled++;
    }
    return;
  }

  const text = raw.toString('utf8');
  let body: unknown = text;
  let isJson = true;
  try {
    body = JSON.parse(text);
  } catch {
    isJson = false;
  }
  deps.record({ path: ex.path, headers: { ...ex.headers }, body });

  const faults = readFaultHeaders(ex.headers);
  if (typeof faults === 'string') {
    counters.errors++;
    sendError(ex, 400, faults, 'invalid_header');
    return;
  }
  if (faults.status !== undefined) {
    counters.errors++;
    const retry = faults.status === 429 || faults.status === 503 ? { 'retry-after': '1' } : {};
    sendError(
      ex,
      faults.status,
      `Simulated failure (x-sim-status: ${faults.status}).`,
      'simulated_error',
      null,
      retry,
    );
    return;
  }
  if (!isJson) {
    counters.errors++;
    sendError(ex, 400, 'The request body is not valid JSON.', 'invalid_json');
    return;
  }
  const parsed = parseCompletionRequest(body, route, deps.options.maxTokens);
  if (!parsed.ok) {
    counters.errors++;
    sendError(ex, 400, parsed.message, 'invalid_request', parsed.param || null);
    return;
  }

  // A free slot is taken at once; only a request that has to queue needs a promise and a signal.
  let lease: SlotLease | undefined = deps.scheduler.tryAcquire();
  if (lease === undefined) {
    try {
      lease = await deps.scheduler.acquire(ex.signal);
    } catch (err) {
      if (err instanceof QueueFullError) {
        counters.rejected++;
        sendError(ex, 503, 'The simulated model server is overloaded; retry later.', 'overloaded', null, {
          'retry-after': '1',
        });
      } else {
        counters.cancelled++; // the client left while queued: it never generates
      }
      return;
    }
  }

  // Looked up once the request has a slot, when a real server would prefill: a request refused or
  // cancelled while queued never reaches the GPU, so it neither hits nor fills the cache.
  const cached = lookupPrefix(deps, parsed.request.prompt);
  const outcome = await runGeneration(
    ex,
    lease,
    {
      request: parsed.request,
      encoder: new CompletionEncoder(completionId(), parsed.request.model),
      ttftMs: faults.ttftMs ?? (cached ? deps.options.cachedTtftMs : deps.options.ttftMs),
      tokenMs: deps.options.tokenMs,
      closeAfterTokens: faults.closeAfterTokens,
      honourStop: !faults.ignoreStop,
      seed: deps.options.seed,
    },
    counters,
    deps.batch,
  );
  countOutcome(counters, outcome);
}

/** Consults the prefix cache and counts the hit or miss; false when there is no cache. */
function lookupPrefix(deps: CompletionDeps, prompt: string): boolean {
  if (deps.prefixCache === undefined) return false;
  const hit = deps.prefixCache.lookup(prompt);
  if (hit) deps.counters.prefix_cache_hits++;
  else deps.counters.prefix_cache_misses++;
  return hit;
}

function countOutcome(counters: SimulatorCounters, outcome: GenerationOutcome): void {
  if (outcome === 'completed') counters.completed++;
  else if (outcome === 'cancelled') counters.cancelled++;
  else counters.errors++;
}

interface FaultHeaders {
  status: number | undefined;
  closeAfterTokens: number | undefined;
  ttftMs: number | undefined;
  ignoreStop: boolean;
}

/** Parses the x-sim-* test hooks; a malformed value is reported (as a message) rather than ignored. */
function readFaultHeaders(headers: Readonly<Record<string, string>>): FaultHeaders | string {
  const problems: string[] = [];
  const int = (name: string, min: number, max: number): number | undefined => {
    const raw = headers[name]?.trim();
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (raw !== '' && Number.isInteger(value) && value >= min && value <= max) return value;
    problems.push(`Header ${name} must be an integer from ${min} to ${max}.`);
    return undefined;
  };
  const faults: FaultHeaders = {
    status: int('x-sim-status', 400, 599),
    closeAfterTokens: int('x-sim-close-after', 0, Number.MAX_SAFE_INTEGER),
    ttftMs: int('x-sim-ttft-ms', 0, MAX_TTFT_OVERRIDE_MS),
    ignoreStop: headers['x-sim-ignore-stop'] === '1' || headers['x-sim-ignore-stop'] === 'true',
  };
  return problems.length > 0 ? problems.join(' ') : faults;
}

/** Sends an OpenAI-shaped error; never echoes request headers. */
export function sendError(
  ex: Exchange,
  status: number,
  message: string,
  code: string,
  param: string | null = null,
  extraHeaders: Readonly<Record<string, string>> = {},
): void {
  const type = status >= 500 ? 'server_error' : 'invalid_request_error';
  ex.respond(status, { ...JSON_HEADERS, ...extraHeaders }, errorJson(message, type, code, param));
}
