/**
 * The gateway's one model of a completion, between the wire formats. Client protocols decode
 * their request into a CompletionRequest and encode CompletionEvents back out; upstream adapters
 * encode the request for their model server and decode its stream into events. A protocol or an
 * adapter is one file that knows its own format and nothing of the others.
 */

/**
 * Why a choice ended, in the OpenAI words every completion client understands, plus
 * `superseded`: a newer request from the same editor and file replaced this one (policy).
 */
export type FinishReason = 'stop' | 'length' | 'superseded';

/** What the client told us about itself (headers), for policy, telemetry and affinity. */
export interface ClientInfo {
  /** `Editor-Version`, e.g. `vscode/1.95.0`. */
  readonly editor: string | undefined;
  /** `Editor-Plugin-Version`, e.g. `copilot/1.250.0`. */
  readonly plugin: string | undefined;
  /** `VScode-SessionId`: one editor window's session. */
  readonly session: string | undefined;
}

/**
 * A completion request, whichever protocol carried it. Identity and deadline live on the
 * request's context (proxy/context.ts), which travels with it.
 */
export interface CompletionRequest {
  /** Text before the cursor. */
  readonly prompt: string;
  /** Text after the cursor: fill-in-the-middle when present. */
  readonly suffix: string | undefined;
  readonly maxTokens: number | undefined;
  readonly temperature: number | undefined;
  readonly topP: number | undefined;
  /** Completions wanted (choices), at least 1. */
  readonly n: number;
  /** Stop sequences; empty when none. */
  readonly stop: readonly string[];
  /** True for a streamed (SSE) answer, false for one JSON body. */
  readonly stream: boolean;
  readonly language: string | undefined;
  /** OpenAI `logprobs`: how many per token, passed on where the upstream supports it. */
  readonly logprobs: number | undefined;
  /** Sampling seed (OpenAI `seed`, Mistral `random_seed`, Tabby `seed`). */
  readonly seed: number | undefined;
  /** OpenAI `logit_bias`: token id to a bias from -100 to 100, for upstreams that take it. */
  readonly logitBias: Readonly<Record<string, number>> | undefined;
  /** The model the client named: the Copilot engine in the path, or the body's `model`. */
  readonly model: string | undefined;
  /** The file being edited, when the client says (Tabby `segments.filepath`). */
  readonly filepath: string | undefined;
  /** Copilot's `extra` (language, next_indent, trim_by_indentation, ...), as sent. */
  readonly extra: Readonly<Record<string, unknown>> | undefined;
  readonly client: ClientInfo;
  /** The wire format of the client's body: an upstream of the same format may reuse it. */
  readonly origin: WireFormat;
  /**
   * The client's bytes and their parse: passed on untouched when the upstream speaks the same
   * format. A policy that edits the body splices its edits into these bytes too; undefined only
   * if that could not be done, and then the adapter serializes `body`.
   */
  readonly raw: Buffer | undefined;
  readonly body: Readonly<Record<string, unknown>>;
}

/** One piece of a streamed completion. Errors end the stream and travel as GatewayErrors. */
export type CompletionEvent =
  | {
      readonly type: 'text';
      readonly index: number;
      readonly text: string;
      /** Per-token log probabilities, passed through as the upstream sent them. */
      readonly logprobs?: unknown;
    }
  | { readonly type: 'finish'; readonly index: number; readonly reason: FinishReason }
  | { readonly type: 'usage'; readonly promptTokens: number; readonly completionTokens: number };

/** Receives events in order. */
export type EventSink = (event: CompletionEvent) => void;

/**
 * A response's wire format. A client protocol and an upstream adapter that share one may pass
 * the upstream's bytes straight through when the gateway has nothing to change in the text.
 */
export type WireFormat =
  | 'openai-completions' // text_completion SSE / JSON: OpenAI, Copilot, Azure, vLLM, DeepSeek
  | 'mistral-fim' // chat.completion.chunk SSE: Codestral /v1/fim/completions
  | 'llamacpp' // llama.cpp /infill SSE
  | 'ollama' // NDJSON
  | 'tgi' // text-generation-inference SSE
  | 'tabby'; // Tabby's JSON answer
