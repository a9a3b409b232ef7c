import type { CompletionEvent, CompletionRequest, FinishReason } from '../model.js';
import {
  booleanField,
  choicesField,
  invalid,
  logitBiasField,
  logprobsField,
  numberIn,
  objectField,
  optionalString,
  positiveInt,
  promptField,
  stopField,
} from './fields.js';
import type { ClientEncoder, ClientProtocol, DecodeInput, ResponseMeta } from './protocol.js';

/**
 * OpenAI-style completions: `POST /v1/completions` with `model`, `prompt`, `suffix`, `max_tokens`,
 * `temperature`, `top_p`, `n`, `stop`, `stream`, `logprobs`; answers `text_completion` objects, as
 * SSE ending `data: [DONE]` or as one JSON body. The Copilot protocol is the same on the wire
 * (copilot.ts), so the decoding and encoding here serve both.
 */
export const openaiProtocol: ClientProtocol = {
  name: 'openai',
  responseFormat: 'openai-completions',
  decode: (input) => decodeCompletions(input, { model: 'body', streamByDefault: false }),
  encoder: (req, meta) => new CompletionsEncoder(req, meta),
};

/** Where the model name comes from, and whether a request streams unless it says otherwise. */
export interface CompletionsDialect {
  readonly model: 'body' | 'path';
  readonly streamByDefault: boolean;
}

/** Decodes an OpenAI-shaped completions body (also the Copilot one). */
export function decodeCompletions(input: DecodeInput, dialect: CompletionsDialect): CompletionRequest {
  const b = input.body;
  const model = dialect.model === 'path' ? input.engine : optionalString(b.model, 'model');
  if (dialect.model === 'body' && model === undefined)
    throw invalid('"model" is required and must be a string.');
  const extra = objectField(b.extra, 'extra');
  const language = typeof extra?.language === 'string' ? extra.language : undefined;
  return {
    prompt: promptField(b.prompt, 'prompt'),
    suffix: optionalString(b.suffix, 'suffix'),
    maxTokens: positiveInt(b.max_tokens, 'max_tokens'),
    temperature: numberIn(b.temperature, 'temperature', 0, 2),
    topP: numberIn(b.top_p, 'top_p', 0, 1),
    n: choicesField(b.n),
    stop: stopField(b.stop),
    stream: booleanField(b.stream, 'stream', dialect.streamByDefault),
    language,
    logprobs: logprobsField(b.logprobs),
    seed: typeof b.seed === 'number' && Number.isInteger(b.seed) ? b.seed : undefined,
    logitBias: logitBiasField(b.logit_bias),
    model,
    filepath: undefined,
    extra,
    client: input.client,
    origin: 'openai-completions',
    raw: input.raw,
    body: b,
  };
}

interface CollectedChoice {
  text: string;
  finish: FinishReason | null;
  logprobs: unknown[] | undefined;
}

/**
 * `text_completion` objects. Streaming: one SSE event per text piece or finish, built from a head
 * computed once per response (per event only the text is JSON-escaped); usage only when the
 * client asked for it (`stream_options.include_usage`). Non-streaming: collects every choice and
 * writes one body at the end.
 */
export class CompletionsEncoder implements ClientEncoder {
  readonly contentType: string;
  readonly #stream: boolean;
  readonly #head: string;
  readonly #meta: ResponseMeta;
  readonly #includeUsage: boolean;
  readonly #choices: CollectedChoice[] = [];
  #usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | undefined;

  constructor(req: CompletionRequest, meta: ResponseMeta) {
    this.#stream = req.stream;
    this.#meta = meta;
    this.contentType = req.stream ? 'text/event-stream' : 'application/json';
    this.#head = `data: {"id":${JSON.stringify(meta.id)},"object":"text_completion","created":${meta.created},"model":${JSON.stringify(meta.model)},"choices":[`;
    const options = req.body.stream_options;
    this.#includeUsage =
      typeof options === 'object' &&
      options !== null &&
      (options as { include_usage?: unknown }).include_usage === true;
  }

  event(e: CompletionEvent): string {
    if (!this.#stream) {
      this.#collect(e);
      return '';
    }
    switch (e.type) {
      case 'text':
        return `${this.#head}{"text":${JSON.stringify(e.text)},"index":${e.index},"finish_reason":null,"logprobs":${e.logprobs === undefined ? 'null' : JSON.stringify(e.logprobs)}}]}\n\n`;
      case 'finish':
        return `${this.#head}{"text":"","index":${e.index},"finish_reason":"${e.reason}","logprobs":null}]}\n\n`;
      case 'usage':
        if (!this.#includeUsage) return '';
        return `${this.#head}],"usage":${JSON.stringify(usageOf(e))}}\n\n`;
    }
  }

  end(): string {
    if (this.#stream) return 'data: [DONE]\n\n';
    return JSON.stringify({
      id: this.#meta.id,
      object: 'text_completion',
      created: this.#meta.created,
      model: this.#meta.model,
      choices: this.#choices.map((c, index) => ({
        text: c.text,
        index,
        finish_reason: c.finish ?? 'stop',
        logprobs: c.logprobs === undefined ? null : mergeLogprobs(c.logprobs),
      })),
      ...(this.#usage === undefined ? {} : { usage: this.#usage }),
    });
  }

  #collect(e: CompletionEvent): void {
    if (e.type === 'usage') {
      this.#usage = usageOf(e);
      return;
    }
    while (this.#choices.length <= e.index)
      this.#choices.push({ text: '', finish: null, logprobs: undefined });
    const c = this.#choices[e.index] as CollectedChoice;
    if (e.type === 'text') {
      c.text += e.text;
      if (e.logprobs !== undefined) (c.logprobs ??= []).push(e.logprobs);
    } else c.finish = e.reason;
  }
}

function usageOf(e: { promptTokens: number; completionTokens: number }): {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
} {
  return {
    prompt_tokens: e.promptTokens,
    completion_tokens: e.completionTokens,
    total_tokens: e.promptTokens + e.completionTokens,
  };
}

/** Streamed logprobs objects (tokens, token_logprobs, top_logprobs, text_offset) concatenated. */
function mergeLogprobs(parts: unknown[]): unknown {
  const out: Record<string, unknown[]> = {};
  for (const p of parts) {
    if (typeof p !== 'object' || p === null) continue;
    for (const [k, v] of Object.entries(p)) if (Array.isArray(v)) (out[k] ??= []).push(...(v as unknown[]));
  }
  return out;
}
