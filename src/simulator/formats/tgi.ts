import type { CompletionRequest } from '../request.js';
import { fnv1a32 } from '../rng.js';
import { asObject } from './fields.js';
import {
  capTokens,
  DEFAULT_MODEL,
  hasBearer,
  SSE_HEADERS,
  unauthorized,
  type ChoiceResult,
  type ErrorReply,
  type FinishReason,
  type Parsed,
  type ResponseEncoder,
  type RouteParams,
  type SimError,
  type WireFormat,
} from './format.js';

// Hugging Face text-generation-inference: POST /generate_stream and POST /generate with
// {inputs, parameters: {max_new_tokens, temperature, top_p, stop, return_full_text, do_sample, seed,
// details}}. Streams are SSE written by axum: `data:{…}` with no space after the colon, one event
// per token, the last one carrying generated_text and details; no [DONE]. TGI keeps the stop
// sequence at the end of the text. Errors are {"error","error_type"}: 422 validation, 424
// generation, 429 overloaded. One choice per request.

const MAX_STOP_SEQUENCES = 4; // TGI's --max-stop-sequences default
const VOCAB = 32_000;
const EOS_TOKEN = '{"id":2,"text":"</s>","logprob":-0.01,"special":true}';

interface TgiOptions {
  inputs: string;
  returnFullText: boolean;
  details: boolean;
  /** What details.seed reports: the sampling seed, or null when decoding greedily. */
  seed: number | null;
}

const invalid = (message: string, param: string | null = null): Parsed<TgiOptions> => ({
  ok: false,
  param,
  message: `Input validation error: ${message}`,
});

function parseGenerate(body: unknown, route: RouteParams): Parsed<TgiOptions> {
  const b = asObject(body);
  if (b === undefined) return invalid('the request body must be a JSON object');
  if (typeof b.inputs !== 'string') {
    return b.inputs === undefined || b.inputs === null
      ? {
          ok: false,
          param: 'inputs',
          message: 'Failed to deserialize the JSON body into the target type: missing field `inputs`',
        }
      : invalid('`inputs` must be a string', 'inputs');
  }
  if (b.inputs.length === 0) return invalid('`inputs` cannot be empty', 'inputs');
  const p = asObject(b.parameters) ?? {};
  const has = (name: string): boolean => p[name] !== undefined && p[name] !== null;
  const number = (name: string): number | undefined => (typeof p[name] === 'number' ? p[name] : undefined);
  const flag = (name: string): boolean => p[name] === true;

  for (const name of ['max_new_tokens', 'seed']) {
    if (has(name) && !Number.isInteger(p[name]))
      return invalid(`\`${name}\` must be an integer`, `parameters.${name}`);
  }
  for (const name of ['temperature', 'top_p']) {
    if (has(name) && number(name) === undefined)
      return invalid(`\`${name}\` must be a number`, `parameters.${name}`);
  }
  const maxNew = number('max_new_tokens');
  if (maxNew !== undefined && maxNew <= 0) {
    return invalid('`max_new_tokens` must be strictly positive', 'parameters.max_new_tokens');
  }
  const temperature = number('temperature');
  if (temperature !== undefined && temperature <= 0) {
    return invalid('`temperature` must be strictly positive', 'parameters.temperature');
  }
  const topP = number('top_p');
  if (topP !== undefined && (topP <= 0 || topP >= 1)) {
    return invalid('`top_p` must be > 0.0 and < 1.0', 'parameters.top_p');
  }
  let stop: string[] = [];
  if (has('stop')) {
    if (!Array.isArray(p.stop) || !p.stop.every((s) => typeof s === 'string')) {
      return invalid('`stop` must be an array of strings', 'parameters.stop');
    }
    if (p.stop.length > MAX_STOP_SEQUENCES) {
      return invalid(
        `\`stop\` supports up to ${MAX_STOP_SEQUENCES} stop sequences. Given: ${p.stop.length}`,
        'parameters.stop',
      );
    }
    stop = p.stop.filter((s) => s.length > 0);
  }
  // TGI samples when asked to or when any sampling parameter moves off its neutral value.
  const sampling =
    flag('do_sample') || (temperature !== undefined && temperature !== 1) || topP !== undefined;
  const seed = number('seed');
  const request: CompletionRequest = {
    model: DEFAULT_MODEL,
    prompt: b.inputs,
    suffix: '',
    // Unset: until the model's max_total_tokens (TGI 2.x); here until the simulator's cap.
    maxTokens: capTokens(maxNew, route.maxTokens, route.maxTokensCap),
    temperature: sampling ? (temperature ?? 1) : 0,
    n: 1,
    stop,
    // /generate_stream always streams and /generate never does, whatever the body says.
    stream: route.stream,
    seed,
  };
  const reportedSeed = sampling ? (seed ?? fnv1a32(b.inputs)) : null;
  return {
    ok: true,
    request,
    options: {
      inputs: b.inputs,
      returnFullText: flag('return_full_text'),
      details: flag('details'),
      seed: reportedSeed,
    },
  };
}

/** TGI's finish_reason: a stop sequence is named as such; a stop without one is the end-of-sequence token. */
function finishReason(reason: FinishReason, stopWord: string): string {
  if (reason === 'length') return 'length';
  return stopWord === '' ? 'eos_token' : 'stop_sequence';
}

/** A stand-in token: a stable id and log-probability for a piece of text. */
function token(text: string): string {
  const id = fnv1a32(text) % VOCAB;
  return `{"id":${id},"text":${JSON.stringify(text)},"logprob":${-((id % 997) + 1) / 1000},"special":false}`;
}

class TgiEncoder implements ResponseEncoder {
  readonly streamHeaders = SSE_HEADERS;
  readonly #options: TgiOptions;
  #index = 0;
  #text = '';

  constructor(options: TgiOptions) {
    this.#options = options;
  }

  chunk(_index: number, text: string): string {
    this.#text += text;
    return `data:{"index":${++this.#index},"token":${token(text)},"generated_text":null,"details":null}\n\n`;
  }

  finish(choice: ChoiceResult, text: string): string {
    // The last event is a token event too: the final token (or the EOS token), the whole text, details.
    this.#text += text;
    const details = {
      finish_reason: finishReason(choice.finishReason, choice.stopWord),
      generated_tokens: choice.tokens,
      seed: this.#options.seed,
    };
    const tok = text.length > 0 ? token(text) : EOS_TOKEN;
    const generated = JSON.stringify(this.#generatedText(this.#text));
    return `data:{"index":${++this.#index},"token":${tok},"generated_text":${generated},"details":${JSON.stringify(details)}}\n\n`;
  }

  end(): string {
    return '';
  }

  body(choices: readonly ChoiceResult[]): string {
    const choice = choices[0];
    if (choice === undefined) return '{}';
    const generated_text = this.#generatedText(choice.text);
    if (!this.#options.details) return JSON.stringify({ generated_text });
    // The per-token list is rebuilt from the text (the simulator keeps no token boundaries here).
    const pieces = choice.text.match(/\s+|\w+|[^\w\s]/g) ?? [];
    return JSON.stringify({
      generated_text,
      details: {
        finish_reason: finishReason(choice.finishReason, choice.stopWord),
        generated_tokens: choice.tokens,
        seed: this.#options.seed,
        prefill: [],
        tokens: pieces.map((piece) => JSON.parse(token(piece)) as unknown),
      },
    });
  }

  streamError(message: string): string {
    return `data:${JSON.stringify({ error: message, error_type: 'generation' })}\n\n`;
  }

  #generatedText(text: string): string {
    return this.#options.returnFullText ? this.#options.inputs + text : text;
  }
}

/** TGI's error_type for a status (router/src/server.rs maps its errors the other way round). */
function errorType(err: SimError, status: number): string {
  if (err.kind === 'overloaded') return 'overloaded';
  if (err.kind === 'generation') return 'generation';
  switch (status) {
    case 422:
      return 'validation';
    case 424:
      return 'generation';
    case 429:
      return 'overloaded';
    case 500:
      return 'incomplete_generation';
    default:
      return status >= 500 ? 'generation' : 'validation';
  }
}

function statusFor(err: SimError): number {
  switch (err.kind) {
    case 'invalid_request':
    case 'invalid_json':
    case 'invalid_header':
      return 422;
    case 'overloaded':
      return 429;
    case 'generation':
      return 424;
    default:
      return err.status;
  }
}

const tgiFormat = {
  // Negative max tokens: until the cap.
  defaults: { maxTokens: -1, stream: false },
  keepsStopSequence: true,
  admit(head, apiKey) {
    return hasBearer(head, apiKey) ? undefined : unauthorized('Unauthorized');
  },
  parse: parseGenerate,
  encoder(_request, options) {
    return new TgiEncoder(options);
  },
  error(err: SimError): ErrorReply {
    // axum answers these with a bare status and no body.
    if (err.kind === 'unauthorized' || err.kind === 'not_found' || err.kind === 'method_not_allowed') {
      return { status: err.status, body: '' };
    }
    const status = statusFor(err);
    const message = err.kind === 'overloaded' ? 'Model is overloaded' : err.message;
    return { status, body: JSON.stringify({ error: message, error_type: errorType(err, status) }) };
  },
} satisfies Omit<WireFormat<TgiOptions>, 'name'>;

/** TGI `POST /generate`: one JSON object. */
export const tgiGenerate: WireFormat<TgiOptions> = { ...tgiFormat, name: 'tgi' };

/** TGI `POST /generate_stream`: SSE. */
export const tgiGenerateStream: WireFormat<TgiOptions> = {
  ...tgiFormat,
  name: 'tgi-stream',
  defaults: { maxTokens: -1, stream: true },
};
