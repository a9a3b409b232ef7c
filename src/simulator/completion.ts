import type { DecodeBatch } from './batch.js';
import { BodyTooLargeError, type Exchange } from './exchange.js';
import type { ErrorKind, RouteParams, SimError, WireFormat } from './formats/format.js';
import { runGeneration } from './generation.js';
import type { ResolvedSimulatorOptions } from './options.js';
import type { PrefixCache } from './prefix-cache.js';
import { contextWindow, splitFimPrompt } from './prompt.js';
import { QueueFullError, type SlotLease, type SlotScheduler } from './scheduler.js';
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
const RETRY_HEADERS = Object.freeze({ 'content-type': 'application/json', 'retry-after': '1' });
const RETRY_ONLY = Object.freeze({ 'retry-after': '1' });

/**
 * A completion request from arrival to its last byte, whatever its wire format: read and record the
 * body, check the credential, apply injected faults, validate, wait for a slot, generate. Every
 * request ends in exactly one counter.
 */
export async function handleCompletion(
  ex: Exchange,
  format: WireFormat,
  route: RouteParams,
  deps: CompletionDeps,
): Promise<void> {
  const { counters } = deps;
  counters.requests++;
  // For the age of a cancel (GET /stats/cancels): one clock read per request, none per token.
  const arrivedAt = performance.now();

  let raw: Buffer;
  try {
    raw = await ex.readBody(MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      counters.errors++;
      sendError(ex, format, 413, err.message, 'body_too_large');
    } else {
      counters.cancel(ex.headers['x-request-id'], arrivedAt, ex.goneAt);
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

  const refused = format.admit(ex, deps.options.apiKey);
  if (refused !== undefined) {
    counters.errors++;
    reply(ex, format, refused);
    return;
  }
  const faults = readFaultHeaders(ex.headers);
  if (typeof faults === 'string') {
    counters.errors++;
    sendError(ex, format, 400, faults, 'invalid_header');
    return;
  }
  if (faults.status !== undefined) {
    counters.errors++;
    sendError(
      ex,
      format,
      faults.status,
      `Simulated failure (x-sim-status: ${faults.status}).`,
      'simulated_error',
    );
    return;
  }
  if (!isJson) {
    counters.errors++;
    sendError(ex, format, 400, 'The request body is not valid JSON.', 'invalid_json');
    return;
  }
  const parsed = format.parse(body, route);
  if (!parsed.ok) {
    counters.errors++;
    sendError(ex, format, 400, parsed.message, 'invalid_request', parsed.param);
    return;
  }
  const { request } = parsed;
  // A prompt built from a FIM template (vLLM, TGI, raw Ollama) is split back: the model continues
  // the prefix, and /stats shows which template the gateway built.
  const fim = splitFimPrompt(request.prompt);
  if (fim !== undefined) counters.countFimTemplate(fim.template);

  // A free slot is taken at once; only a request that has to queue needs a promise and a signal.
  let lease: SlotLease | undefined = deps.scheduler.tryAcquire();
  if (lease === undefined) {
    try {
      lease = await deps.scheduler.acquire(ex.signal);
    } catch (err) {
      if (err instanceof QueueFullError) {
        counters.rejected++;
        sendError(ex, format, 503, 'The simulated model server is overloaded; retry later.', 'overloaded');
      } else {
        // The client left while queued: it never generates.
        counters.cancel(ex.headers['x-request-id'], arrivedAt, ex.goneAt);
      }
      return;
    }
  }

  // Looked up once the request has a slot, when a real server would prefill: a request refused or
  // cancelled while queued never reaches the GPU, so it neither hits nor fills the cache.
  const cached = lookupPrefix(deps, request.prompt);
  const timing = {
    ttftMs: faults.ttftMs ?? (cached ? deps.options.cachedTtftMs : deps.options.ttftMs),
    tokenMs: deps.options.tokenMs,
  };
  const errorAfter = faults.errorAfterTokens;
  const closeAfter = faults.closeAfterTokens;
  // Both hooks set: the earlier one fires.
  const fault =
    errorAfter !== undefined && (closeAfter === undefined || errorAfter < closeAfter) ? 'error' : 'close';
  const faultAfterTokens = fault === 'error' ? errorAfter : closeAfter;
  const outcome = await runGeneration(
    ex,
    lease,
    {
      request,
      encoder: format.encoder(request, parsed.options, timing),
      context: contextWindow(fim?.prefix ?? request.prompt),
      ttftMs: timing.ttftMs,
      tokenMs: timing.tokenMs,
      faultAfterTokens,
      fault,
      errorReply:
        fault === 'error'
          ? format.error({
              status: 500,
              kind: 'generation',
              message: `Simulated generation failure after ${faultAfterTokens} tokens (x-sim-error-after).`,
              param: null,
            })
          : undefined,
      honourStop: !faults.ignoreStop,
      keepStop: format.keepsStopSequence,
      seed: request.seed ?? deps.options.seed,
    },
    counters,
    deps.batch,
  );
  if (outcome === 'completed') counters.completed++;
  else if (outcome === 'cancelled') counters.cancel(ex.headers['x-request-id'], arrivedAt, ex.goneAt);
  else counters.errors++;
}

/** Consults the prefix cache and counts the hit or miss; false when there is no cache. */
function lookupPrefix(deps: CompletionDeps, prompt: string): boolean {
  if (deps.prefixCache === undefined) return false;
  const hit = deps.prefixCache.lookup(prompt);
  if (hit) deps.counters.prefix_cache_hits++;
  else deps.counters.prefix_cache_misses++;
  return hit;
}

interface FaultHeaders {
  status: number | undefined;
  closeAfterTokens: number | undefined;
  errorAfterTokens: number | undefined;
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
    errorAfterTokens: int('x-sim-error-after', 0, Number.MAX_SAFE_INTEGER),
    ttftMs: int('x-sim-ttft-ms', 0, MAX_TTFT_OVERRIDE_MS),
    ignoreStop: headers['x-sim-ignore-stop'] === '1' || headers['x-sim-ignore-stop'] === 'true',
  };
  return problems.length > 0 ? problems.join(' ') : faults;
}

/** Answers with `format`'s error for what went wrong; never echoes request headers. */
export function sendError(
  ex: Exchange,
  format: WireFormat,
  status: number,
  message: string,
  kind: ErrorKind,
  param: string | null = null,
  extraHeaders: Readonly<Record<string, string>> = {},
): void {
  reply(ex, format, { status, kind, message, param }, extraHeaders);
}

function reply(
  ex: Exchange,
  format: WireFormat,
  err: SimError,
  extraHeaders: Readonly<Record<string, string>> = {},
): void {
  const { status, body } = format.error(err);
  // A refusal for load (an injected 429/503, a full queue) says when to come back, whatever the format.
  const retry = status === 429 || status === 503;
  const base = body === '' ? (retry ? RETRY_ONLY : {}) : retry ? RETRY_HEADERS : JSON_HEADERS;
  ex.respond(status, { ...base, ...extraHeaders }, body);
}
