import { GatewayError } from '../../errors/gateway-error.js';
import type { CompletionRequest, EventSink, FinishReason } from '../model.js';
import { SseDecoder } from '../sse.js';
import type { UpstreamAdapter, UpstreamTarget } from './adapter.js';

/**
 * OpenAI-compatible completions (`POST {base}/v1/completions`): OpenAI, DeepSeek's FIM beta, vLLM
 * or SGLang behind an OpenAI-compatible front, llama.cpp's `/v1/completions`. The body is the
 * client's own when nothing needs to change: the model is spliced in without re-serialising the
 * prompt; otherwise it is re-encoded with `stream: true`.
 */
export const openaiAdapter: UpstreamAdapter = {
  name: 'openai',
  responseFormat: 'openai-completions',
  maxChoices: 16,
  needsFimTemplate: false,
  path: (t) => `${t.basePath === '' ? '/v1' : t.basePath}/completions`,
  body: (req, t, passThrough) => completionsBody(req, t, passThrough, { model: true }),
  decoder: () => new CompletionsDecoder(),
};

/**
 * The body for an OpenAI-shaped completions endpoint. In pass-through the client's bytes go as
 * they came (plus the model when they lack it); otherwise the client's fields are kept, the model
 * set, and the stream asked for. `model: false` leaves the model out (Copilot and Azure name it
 * in the path).
 */
export function completionsBody(
  req: CompletionRequest,
  t: UpstreamTarget,
  passThrough: boolean,
  opts: { model: boolean },
  override: Readonly<Record<string, unknown>> = {},
): Buffer {
  // A body from another protocol (Codestral, Tabby) is not an OpenAI one: build it from the fields.
  if (req.origin !== 'openai-completions')
    return Buffer.from(JSON.stringify({ ...openaiFields(req, t, opts), ...override }));
  const b = req.body;
  // The client's bytes already ask for what we need (editors always stream): reuse them.
  const reusable =
    Object.keys(override).length === 0 &&
    (passThrough || (b.stream === true && b.stream_options === undefined));
  if (reusable && req.raw !== undefined) {
    if (!opts.model || b.model === t.upstreamModel) return req.raw;
    if (b.model === undefined) return spliceModel(req.raw, t.modelField);
  }
  const out: Record<string, unknown> = { ...b, ...override };
  if (opts.model) out.model = t.upstreamModel;
  else delete out.model;
  if (!passThrough) {
    out.stream = true;
    delete out.stream_options;
  }
  return Buffer.from(JSON.stringify(out));
}

/** An OpenAI completions body from the normalized request (what it says, nothing more). */
function openaiFields(
  req: CompletionRequest,
  t: UpstreamTarget,
  opts: { model: boolean },
): Record<string, unknown> {
  const out: Record<string, unknown> = { prompt: req.prompt, stream: true };
  if (opts.model) out.model = t.upstreamModel;
  if (req.suffix !== undefined) out.suffix = req.suffix;
  if (req.maxTokens !== undefined) out.max_tokens = req.maxTokens;
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.topP !== undefined) out.top_p = req.topP;
  if (req.n !== 1) out.n = req.n;
  if (req.stop.length > 0) out.stop = req.stop;
  if (req.seed !== undefined) out.seed = req.seed;
  if (req.logitBias !== undefined) out.logit_bias = req.logitBias;
  return out;
}

/**
 * Inserts the model field after the opening brace. Only called on a validated JSON object that
 * has no model key and at least one other key (prompt is required), so the result is valid JSON;
 * it saves a full re-serialisation of a prompt that may be many kilobytes.
 */
function spliceModel(raw: Buffer, field: Buffer): Buffer {
  const at = raw.indexOf(0x7b /* { */) + 1;
  const out = Buffer.allocUnsafe(raw.length + field.length);
  raw.copy(out, 0, 0, at);
  field.copy(out, at);
  raw.copy(out, at + field.length, at);
  return out;
}

/** `"model":"<name>",`: what spliceModel inserts, built once per target. */
export function modelFieldBytes(upstreamModel: string): Buffer {
  return Buffer.from(`"model":${JSON.stringify(upstreamModel)},`);
}

interface CompletionsChunk {
  choices?: { text?: unknown; index?: unknown; finish_reason?: unknown; logprobs?: unknown }[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
  error?: { message?: unknown } | string;
}

/** Reads `text_completion` SSE (OpenAI, Copilot, Azure, vLLM): text, finish reasons, usage, in-band errors. */
export class CompletionsDecoder extends SseDecoder {
  constructor() {
    super(completionsEvents);
  }
}

/**
 * The events in one `text_completion` SSE payload (`[DONE]` has none). The common one-choice
 * event is read without JSON.parse; anything else gets the full parse. Throws GW_UPSTREAM_ERROR
 * for an in-band error and GW_UPSTREAM_BAD_RESPONSE for a payload that is not JSON.
 */
export function completionsEvents(data: string, emit: EventSink): void {
  if (data === '[DONE]') return;
  const fast = singleChoice(data);
  if (fast !== undefined) {
    if (fast.text.length > 0) emit({ type: 'text', index: fast.index, text: fast.text });
    if (fast.finish !== undefined) emit({ type: 'finish', index: fast.index, reason: fast.finish });
    return;
  }
  const chunk = parseEvent(data) as CompletionsChunk;
  if (chunk.error !== undefined) throw inBandError(chunk.error);
  for (const c of chunk.choices ?? []) {
    const index = typeof c.index === 'number' ? c.index : 0;
    if (typeof c.text === 'string' && c.text.length > 0)
      emit(
        c.logprobs === undefined || c.logprobs === null
          ? { type: 'text', index, text: c.text }
          : { type: 'text', index, text: c.text, logprobs: c.logprobs },
      );
    const reason = finishReasonOf(c.finish_reason);
    if (reason !== undefined) emit({ type: 'finish', index, reason });
  }
  const u = chunk.usage;
  if (
    u !== undefined &&
    u !== null &&
    typeof u.prompt_tokens === 'number' &&
    typeof u.completion_tokens === 'number'
  )
    emit({ type: 'usage', promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens });
}

const TEXT_KEY = '"text":"';
const CHOICES_OPEN = '"choices":[{';
/** Where the last event had its text key: a hint, checked before it is used. */
let lastTextAt = 0;
const INDEX_KEY = '"index":';
const FINISH_KEY = '"finish_reason":';
const LOGPROBS_NULL = '"logprobs":null';

/**
 * The common event, read without JSON.parse (several times cheaper, and this runs for every
 * token): compact JSON whose one choice has `text`, `index`, `finish_reason` and a null
 * `logprobs`, in that order, and nothing after the choice but closing brackets. Keys are found by
 * their quoted names, which cannot occur inside a string value (its quotes would be escaped).
 * Anything else returns undefined and takes the full parse.
 */
function singleChoice(
  d: string,
): { index: number; text: string; finish: FinishReason | undefined } | undefined {
  // Events of one stream share their head (id, created, model): look where the last text was first.
  const t = d.startsWith(TEXT_KEY, lastTextAt) ? lastTextAt : d.indexOf(TEXT_KEY);
  // Only the first choice's text, right after the array opens: a later one means several choices.
  if (t === -1 || !d.startsWith(CHOICES_OPEN, t - CHOICES_OPEN.length)) return undefined;
  lastTextAt = t;
  const start = t + TEXT_KEY.length;
  // The text's closing quote: the next quote not escaped by an odd run of backslashes.
  let end = d.indexOf('"', start);
  while (end !== -1 && d.charCodeAt(end - 1) === 92) {
    let k = end - 2;
    while (d.charCodeAt(k) === 92) k--;
    if ((end - 1 - k) % 2 === 0) break;
    end = d.indexOf('"', end + 1);
  }
  if (end === -1) return undefined;
  // ,"index":N,"finish_reason":null|"x","logprobs":null}]} and nothing else after the text.
  let p = end + 1;
  if (!d.startsWith(INDEX_KEY, p + 1)) return undefined;
  p += 1 + INDEX_KEY.length;
  let index = 0;
  const digits = p;
  for (let c = d.charCodeAt(p); c >= 48 && c <= 57; c = d.charCodeAt(++p)) index = index * 10 + (c - 48);
  if (p === digits || !d.startsWith(FINISH_KEY, p + 1)) return undefined;
  p += 1 + FINISH_KEY.length;
  let finish: FinishReason | undefined;
  if (d.startsWith('null', p)) p += 4;
  else if (d.charCodeAt(p) === 34) {
    const close = d.indexOf('"', p + 1);
    if (close === -1) return undefined;
    finish = d.startsWith('length', p + 1) && close === p + 7 ? 'length' : 'stop';
    p = close + 1;
  } else return undefined;
  if (!d.startsWith(LOGPROBS_NULL, p + 1) || d.length - (p + 1 + LOGPROBS_NULL.length) !== 3)
    return undefined;
  const backslash = d.indexOf('\\', start);
  const text =
    backslash !== -1 && backslash < end
      ? (JSON.parse(d.slice(start - 1, end + 1)) as string)
      : d.slice(start, end);
  return { index, text, finish };
}

/** JSON of one event; anything else is a bad response, not a crash. */
export function parseEvent(data: string): object {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    throw new GatewayError('GW_UPSTREAM_BAD_RESPONSE', {
      detail: 'The model server sent an event that is not JSON.',
    });
  }
  if (typeof v !== 'object' || v === null)
    throw new GatewayError('GW_UPSTREAM_BAD_RESPONSE', {
      detail: 'The model server sent an event that is not a JSON object.',
    });
  return v;
}

/** An error the server reported inside its stream. Its text is not passed on (it may echo the prompt). */
export function inBandError(_error: unknown): GatewayError {
  return new GatewayError('GW_UPSTREAM_ERROR', { detail: 'The model server reported an error mid-stream.' });
}

/** OpenAI-style finish reasons; anything else that ends a choice (content_filter, eos) counts as stop. */
export function finishReasonOf(v: unknown): FinishReason | undefined {
  if (v === null || v === undefined) return undefined;
  return v === 'length' ? 'length' : 'stop';
}
