export type FinishReason = 'stop' | 'length';

export const SSE_DONE = 'data: [DONE]\n\n';

/** One finished choice of a non-streaming completion. */
export interface CompletedChoice {
  text: string;
  finishReason: FinishReason;
}

/**
 * Encodes OpenAI `text_completion` objects for one response. The constant part of every event is
 * built once; per token only the text is JSON-escaped (this runs once per token per choice).
 */
export class CompletionEncoder {
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

  /** One SSE event carrying a piece of text for choice `index`. */
  chunk(index: number, text: string): string {
    return `${this.#head}${JSON.stringify(text)},"index":${index},"finish_reason":null,"logprobs":null}]}\n\n`;
  }

  /** The closing SSE event of choice `index`. */
  finish(index: number, reason: FinishReason): string {
    return `${this.#head}"","index":${index},"finish_reason":"${reason}","logprobs":null}]}\n\n`;
  }

  /** The whole non-streaming response body. */
  json(choices: readonly CompletedChoice[], promptTokens: number, completionTokens: number): string {
    return JSON.stringify({
      id: this.id,
      object: 'text_completion',
      created: this.created,
      model: this.model,
      choices: choices.map((c, index) => ({
        text: c.text,
        index,
        finish_reason: c.finishReason,
        logprobs: null,
      })),
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    });
  }
}

let sequence = 0;
const runId = Math.floor(Math.random() * 0xffffffff)
  .toString(36)
  .padStart(7, '0');

/** A unique completion id (`cmpl-…`); cheap, no crypto on the hot path. */
export function completionId(): string {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `cmpl-sim${runId}${sequence.toString(36).padStart(6, '0')}`;
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
