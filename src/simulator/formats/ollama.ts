import type { CompletionRequest } from '../request.js';
import { asObject } from './fields.js';
import {
  capTokens,
  estimateTokens,
  hasBearer,
  type ChoiceResult,
  type ErrorReply,
  type GenerationTiming,
  type Parsed,
  type ResponseEncoder,
  type RouteParams,
  type SimError,
  type WireFormat,
} from './format.js';

// Ollama: POST /api/generate {model, prompt, suffix, raw, stream, options: {num_predict, temperature,
// top_p, stop, seed}}. `stream` defaults to TRUE. A stream is NDJSON (application/x-ndjson), one
// object per line, the last with done: true, done_reason and the counts and durations (nanoseconds).
// Errors are {"error": "..."}. One choice per request. GET /api/tags and GET / answer health probes.

const NDJSON_HEADERS = Object.freeze({ 'content-type': 'application/x-ndjson' });
const DEFAULT_TEMPERATURE = 0.8;
const NS_PER_MS = 1_000_000;

const json = (v: unknown): string => {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v === 'boolean' ? 'bool' : typeof v;
};
/** Go's encoding/json message for a field of the wrong type, as Ollama returns it. */
const goTypeError = (field: string, v: unknown, goType: string): Parsed<undefined> => ({
  ok: false,
  param: field,
  message: `json: cannot unmarshal ${json(v)} into Go struct field GenerateRequest.${field} of type ${goType}`,
});
const optionError = (name: string, type: string): Parsed<undefined> => ({
  ok: false,
  param: `options.${name}`,
  message: `option "${name}" must be of type ${type}`,
});

function parseGenerate(body: unknown, route: RouteParams): Parsed<undefined> {
  const b = asObject(body);
  if (b === undefined) {
    return {
      ok: false,
      param: null,
      message: `json: cannot unmarshal ${json(body)} into Go value of type api.GenerateRequest`,
    };
  }
  for (const [field, goType, ok] of [
    ['model', 'string', (v: unknown) => typeof v === 'string'],
    ['prompt', 'string', (v: unknown) => typeof v === 'string'],
    ['suffix', 'string', (v: unknown) => typeof v === 'string'],
    ['raw', 'bool', (v: unknown) => typeof v === 'boolean'],
    ['stream', 'bool', (v: unknown) => typeof v === 'boolean'],
    ['options', 'map[string]interface {}', (v: unknown) => asObject(v) !== undefined],
  ] as const) {
    const v = b[field];
    if (v !== undefined && v !== null && !ok(v)) return goTypeError(field, v, goType);
  }
  if (typeof b.model !== 'string' || b.model === '')
    return { ok: false, param: 'model', message: 'model is required' };

  const o = asObject(b.options) ?? {};
  const isNum = (v: unknown): v is number => typeof v === 'number';
  if (o.num_predict !== undefined && !Number.isInteger(o.num_predict))
    return optionError('num_predict', 'int');
  if (o.temperature !== undefined && !isNum(o.temperature)) return optionError('temperature', 'float32');
  if (o.top_p !== undefined && !isNum(o.top_p)) return optionError('top_p', 'float32');
  if (o.seed !== undefined && !Number.isInteger(o.seed)) return optionError('seed', 'int');
  let stop: string[] = [];
  if (o.stop !== undefined) {
    if (!Array.isArray(o.stop) || !o.stop.every((s) => typeof s === 'string')) {
      return optionError('stop', 'array of strings');
    }
    stop = o.stop.filter((s) => s.length > 0);
  }
  const seed = o.seed as number | undefined;
  const request: CompletionRequest = {
    model: b.model,
    prompt: typeof b.prompt === 'string' ? b.prompt : '',
    suffix: typeof b.suffix === 'string' ? b.suffix : '',
    // -1 (the default) generates until a stop; -2 until the context is full: both until the cap here.
    maxTokens: capTokens(o.num_predict as number | undefined, route.maxTokens, route.maxTokensCap),
    temperature: Math.max(0, o.temperature ?? DEFAULT_TEMPERATURE),
    n: 1,
    stop,
    stream: typeof b.stream === 'boolean' ? b.stream : route.stream,
    seed: seed === undefined || seed < 0 ? undefined : seed,
  };
  return { ok: true, request, options: undefined };
}

class OllamaEncoder implements ResponseEncoder {
  readonly streamHeaders = NDJSON_HEADERS;
  readonly #model: string;
  readonly #head: string;
  readonly #promptTokens: number;
  readonly #timing: GenerationTiming;
  readonly #startedAt = performance.now();

  constructor(request: CompletionRequest, timing: GenerationTiming) {
    this.#model = request.model;
    this.#head = `{"model":${JSON.stringify(request.model)},"created_at":"`;
    this.#promptTokens = estimateTokens(request.prompt + request.suffix);
    this.#timing = timing;
  }

  chunk(_index: number, text: string): string {
    return `${this.#head}${new Date().toISOString()}","response":${JSON.stringify(text)},"done":false}\n`;
  }

  finish(choice: ChoiceResult, text: string): string {
    const last = text.length > 0 ? this.chunk(choice.index, text) : '';
    return `${last}${JSON.stringify(this.#final(choice, ''))}\n`;
  }

  end(): string {
    return '';
  }

  body(choices: readonly ChoiceResult[]): string {
    const choice = choices[0];
    return choice === undefined ? '{}' : JSON.stringify(this.#final(choice, choice.text));
  }

  streamError(message: string): string {
    return `${JSON.stringify({ error: message })}\n`;
  }

  #final(choice: ChoiceResult, response: string): Record<string, unknown> {
    const promptNs = Math.round(this.#timing.ttftMs * NS_PER_MS);
    const evalNs = Math.round(choice.tokens * this.#timing.tokenMs * NS_PER_MS);
    const wallNs = Math.round((performance.now() - this.#startedAt) * NS_PER_MS);
    return {
      model: this.#model,
      created_at: new Date().toISOString(),
      response,
      done: true,
      done_reason: choice.finishReason,
      total_duration: Math.max(wallNs, promptNs + evalNs),
      load_duration: 0,
      prompt_eval_count: this.#promptTokens,
      prompt_eval_duration: promptNs,
      eval_count: choice.tokens,
      eval_duration: evalNs,
    };
  }
}

/** Ollama `POST /api/generate`. */
export const ollama: WireFormat<undefined> = {
  name: 'ollama',
  defaults: { maxTokens: -1, stream: true },
  keepsStopSequence: false,
  admit(head, apiKey) {
    // Ollama has no keys of its own; behind a proxy that wants one, a bearer token.
    return hasBearer(head, apiKey)
      ? undefined
      : { status: 401, kind: 'unauthorized', message: 'unauthorized', param: null };
  },
  parse: parseGenerate,
  encoder(request, _options, timing) {
    return new OllamaEncoder(request, timing);
  },
  error(err: SimError): ErrorReply {
    const message =
      err.kind === 'overloaded'
        ? 'server busy, please try again.  maximum pending requests exceeded'
        : err.message;
    return { status: err.status, body: JSON.stringify({ error: message }) };
  },
};

/** `GET /`: what Ollama answers a liveness probe with (text/plain). */
export const OLLAMA_ROOT_BODY = 'Ollama is running';

/** `GET /api/tags`: the models this simulator claims to have pulled (any name is served). */
export const OLLAMA_TAGS_BODY = JSON.stringify({
  models: ['ghostwire-sim:latest', 'qwen2.5-coder:1.5b-base', 'codellama:7b-code'].map((name) => ({
    name,
    model: name,
    modified_at: '2025-01-01T00:00:00Z',
    size: 986_000_000,
    digest: '0'.repeat(64),
    details: {
      parent_model: '',
      format: 'gguf',
      family: 'llama',
      families: ['llama'],
      parameter_size: '1.5B',
      quantization_level: 'Q8_0',
    },
  })),
});
