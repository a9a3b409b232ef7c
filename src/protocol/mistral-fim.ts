import type { ResponseMeta } from './client/protocol.js';
import type { CompletionEvent, CompletionRequest, EventSink, FinishReason } from './model.js';
import { SseDecoder } from './sse.js';
import { finishReasonOf, inBandError, parseEvent } from './upstream/openai.js';

/**
 * Mistral's FIM wire format (`POST /v1/fim/completions`, Codestral), both directions: the client
 * protocol (client/codestral.ts) writes it, the upstream adapter (upstream/codestral.ts) reads it.
 * Answers are chat-shaped: a stream of `chat.completion.chunk` events whose one choice carries
 * `delta.content` (the role on the first), the last with `finish_reason` and `usage`, then
 * `data: [DONE]`; a non-streaming answer is one `chat.completion` with `message.content`.
 * One choice per request: Mistral's FIM endpoint has no `n`.
 */

/**
 * The body fields Mistral's FIM endpoint knows. It refuses any other with a 422, so an upstream
 * request carries these and nothing else.
 */
export const MISTRAL_FIM_FIELDS: ReadonlySet<string> = new Set([
  'model',
  'prompt',
  'suffix',
  'temperature',
  'top_p',
  'max_tokens',
  'min_tokens',
  'stream',
  'stop',
  'random_seed',
]);

/** Mistral's temperature range ends here (OpenAI's at 2). */
export const MISTRAL_MAX_TEMPERATURE = 1.5;

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/**
 * Events → Mistral's answer. Streaming: one chunk per text piece, built from a head computed once
 * per response (per event only the text is JSON-escaped). The finish is held until the end so it
 * can carry the usage, as Mistral's last chunk does; it always has `delta.content` (""), since
 * clients read `choices[0].delta.content` of every chunk without checking (Continue). No chunk
 * is ever sent without a choice, for the same reason. Non-streaming: one `chat.completion` body.
 * `usage` appears only when the upstream reported it.
 */
export class FimChunkEncoder {
  readonly contentType: string;
  readonly #stream: boolean;
  readonly #meta: ResponseMeta;
  readonly #head: string;
  #role = '"role":"assistant",';
  #text = '';
  #finish: FinishReason | undefined;
  #usage: Usage | undefined;

  constructor(req: CompletionRequest, meta: ResponseMeta) {
    this.#stream = req.stream;
    this.#meta = meta;
    this.contentType = req.stream ? 'text/event-stream' : 'application/json';
    this.#head = `data: {"id":${JSON.stringify(meta.id)},"object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"choices":[{"index":0,"delta":{`;
  }

  event(e: CompletionEvent): string {
    switch (e.type) {
      case 'text':
        if (!this.#stream) {
          this.#text += e.text;
          return '';
        }
        return `${this.#head}${this.#takeRole()}"content":${JSON.stringify(e.text)}},"finish_reason":null}]}\n\n`;
      case 'finish':
        this.#finish ??= e.reason;
        return '';
      case 'usage':
        this.#usage = {
          prompt_tokens: e.promptTokens,
          completion_tokens: e.completionTokens,
          total_tokens: e.promptTokens + e.completionTokens,
        };
        return '';
    }
  }

  end(): string {
    const reason = this.#finish ?? 'stop';
    if (this.#stream) {
      const usage = this.#usage === undefined ? '' : `,"usage":${JSON.stringify(this.#usage)}`;
      return `${this.#head}${this.#takeRole()}"content":""},"finish_reason":"${reason}"}]${usage}}\n\ndata: [DONE]\n\n`;
    }
    return JSON.stringify({
      id: this.#meta.id,
      object: 'chat.completion',
      created: this.#meta.created,
      model: this.#meta.model,
      choices: [{ index: 0, message: { role: 'assistant', content: this.#text }, finish_reason: reason }],
      ...(this.#usage === undefined ? {} : { usage: this.#usage }),
    });
  }

  /** Chat streams name the role in their first delta only. */
  #takeRole(): string {
    const role = this.#role;
    this.#role = '';
    return role;
  }
}

interface FimChunk {
  object?: unknown;
  choices?: {
    index?: unknown;
    delta?: { content?: unknown } | null;
    finish_reason?: unknown;
  }[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
  error?: unknown;
}

/**
 * Mistral's stream → events: text from `delta.content`, the finish reason, usage. An in-band
 * error (`{"error":…}`, a bare `{"object":"error",…}`, or a choice finished with `error`) throws
 * GW_UPSTREAM_ERROR; a payload that is not JSON, GW_UPSTREAM_BAD_RESPONSE.
 */
export class FimChunkDecoder extends SseDecoder {
  constructor() {
    super(fimChunkEvents);
  }
}

/** The events in one `chat.completion.chunk` payload (`[DONE]` has none). */
export function fimChunkEvents(data: string, emit: EventSink): void {
  if (data === '[DONE]') return;
  const chunk = parseEvent(data) as FimChunk;
  if (chunk.error !== undefined || chunk.object === 'error') throw inBandError(chunk.error ?? chunk);
  for (const c of chunk.choices ?? []) {
    const index = typeof c.index === 'number' ? c.index : 0;
    const content = c.delta?.content;
    if (typeof content === 'string' && content.length > 0) emit({ type: 'text', index, text: content });
    if (c.finish_reason === 'error') throw inBandError(c);
    // model_length: the model's context is full, a length finish in OpenAI's words.
    const reason = c.finish_reason === 'model_length' ? 'length' : finishReasonOf(c.finish_reason);
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
