import { asObject, FieldReader } from './fields.js';
import {
  DEFAULT_MODEL,
  hasBearer,
  SSE_HEADERS,
  unauthorized,
  type ChoiceResult,
  type ErrorReply,
  type Parsed,
  type ResponseEncoder,
  type RouteParams,
  type SimError,
  type WireFormat,
} from './format.js';

// OpenAI completions: POST /v1/completions, and the Copilot engine route that speaks the same bytes.
// Copilot clients and the gateway's benchmark run on this path: the encoder builds the constant
// head of every event once per response, and per token only JSON-escapes the text.

const MAX_CHOICES = 16;
const MAX_STOPS = 16;
export const SSE_DONE = 'data: [DONE]\n\n';

/** Encodes OpenAI `text_completion` objects for one response. */
export class OpenAIEncoder implements ResponseEncoder {
  readonly streamHeaders = SSE_HEADERS;
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly #head: string;

  constructor(id: string, model: string, created = Math.floor(Date.now() / 1000)) {
    this.id = id;
    this.created = created;
    this.model = model;
    this.#head = `data: {"id":${JSON.stringify(id)},"object":"text_completion","created":${created},"model":${JSON.stringify(model)},"choices":[{"text":`;
  }

  chunk(index: number, text: string): string {
    return `${this.#head}${JSON.stringify(text)},"index":${index},"finish_reason":null,"logprobs":null}]}\n\n`;
  }

  finish(choice: ChoiceResult, text: string): string {
    const last = text.length > 0 ? this.chunk(choice.index, text) : '';
    return `${last}${this.#head}"","index":${choice.index},"finish_reason":"${choice.finishReason}","logprobs":null}]}\n\n`;
  }

  end(): string {
    return SSE_DONE;
  }

  body(choices: readonly ChoiceResult[], promptTokens: number, completionTokens: number): string {
    return JSON.stringify(this.bodyObject(choices, promptTokens, completionTokens));
  }

  /** The non-streaming answer before serialisation, for formats that add to it (Azure). */
  protected bodyObject(
    choices: readonly ChoiceResult[],
    promptTokens: number,
    completionTokens: number,
  ): Record<string, unknown> {
    return {
      id: this.id,
      object: 'text_completion',
      created: this.created,
      model: this.model,
      choices: choices.map((c) => ({
        text: c.text,
        index: c.index,
        finish_reason: c.finishReason,
        logprobs: null,
      })),
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    };
  }

  streamError(message: string): string {
    return `data: ${errorJson(message, 'server_error', 'generation_error')}\n\n`;
  }
}

/** OpenAI's request fields; also the base of Azure's and vLLM's. */
export function parseOpenAI(body: unknown, route: RouteParams): Parsed<undefined> {
  const b = asObject(body);
  if (b === undefined) return { ok: false, param: null, message: 'The request body must be a JSON object.' };
  const f = new FieldReader(b);

  let model = route.pathModel;
  if (model === undefined) {
    const named = f.string('model');
    model = named !== undefined && named.length > 0 ? named : DEFAULT_MODEL;
  }
  let prompt = '';
  const rawPrompt = f.raw('prompt');
  if (typeof rawPrompt === 'string') prompt = rawPrompt;
  else if (Array.isArray(rawPrompt) && rawPrompt.every((p) => typeof p === 'string')) {
    // A batch of prompts: the simulator answers the first, which is all completion clients send.
    prompt = rawPrompt[0] ?? '';
  } else if (rawPrompt !== undefined) f.fail('prompt', 'a string');
  const suffix = f.string('suffix') ?? '';
  const maxTokens = f.int('max_tokens', 0) ?? route.maxTokens;
  const temperature = f.number('temperature', 0, 2) ?? 1;
  const n = f.int('n', 1, MAX_CHOICES, `an integer from 1 to ${MAX_CHOICES}`) ?? 1;
  const stop = f.stops('stop', MAX_STOPS) ?? [];
  const stream = f.boolean('stream') ?? route.stream;
  if (f.problem !== undefined) return { ok: false, ...f.problem };

  return {
    ok: true,
    request: {
      model,
      prompt,
      suffix,
      maxTokens: Math.min(maxTokens, route.maxTokensCap),
      temperature,
      n,
      stop,
      stream,
      seed: undefined,
    },
    options: undefined,
  };
}

/** OpenAI-shaped error body (`{"error":{message,type,param,code}}`) that clients already parse. */
export function errorJson(
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

export function openAIError(err: SimError): ErrorReply {
  const type = err.status >= 500 ? 'server_error' : 'invalid_request_error';
  const code = err.kind === 'unauthorized' ? 'invalid_api_key' : err.kind;
  return { status: err.status, body: errorJson(err.message, type, code, err.param) };
}

let sequence = 0;
const runId = Math.floor(Math.random() * 0xffffffff)
  .toString(36)
  .padStart(7, '0');

/** A unique completion id (`cmpl-…`); cheap, no crypto on the hot path. */
export function completionId(prefix = 'cmpl-'): string {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `${prefix}sim${runId}${sequence.toString(36).padStart(6, '0')}`;
}

/** OpenAI completions (`POST /v1/completions`; Copilot's `/v1/engines/{engine}/completions`). */
export const openai: WireFormat<undefined> = {
  name: 'openai',
  // OpenAI's documented default for /v1/completions; the Copilot route overrides both.
  defaults: { maxTokens: 16, stream: false },
  keepsStopSequence: false,
  admit(head, apiKey) {
    return hasBearer(head, apiKey) ? undefined : unauthorized('Incorrect API key provided.');
  },
  parse: parseOpenAI,
  encoder(request) {
    return new OpenAIEncoder(completionId(), request.model);
  },
  error: openAIError,
};
