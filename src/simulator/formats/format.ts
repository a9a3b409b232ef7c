import type { CompletionRequest } from '../request.js';

/**
 * The contract every wire format of the simulator implements: how a model server's request body
 * becomes a CompletionRequest, and how a generation goes back out in that server's bytes. The
 * generation core (slots, batch, stop, faults, cancellation) knows nothing of any format; a new
 * format is one file implementing this plus one line in the route table (handlers.ts).
 */
export interface WireFormat<Options = unknown> {
  /** Short name, for docs and messages ('openai', 'tgi', ...). */
  readonly name: string;
  /** What a request that says nothing gets; a route may override them (the Copilot engine route). */
  readonly defaults: FormatDefaults;
  /** The server keeps the stop sequence that ended a choice at the end of its text (TGI does). */
  readonly keepsStopSequence: boolean;
  /**
   * Checks made before the body counts: the credential (`apiKey` is '' when none is required) and
   * the query. Returns the refusal, or undefined to go on.
   */
  admit(head: RequestHead, apiKey: string): SimError | undefined;
  /** Reads the body into the request the generation runs; ignores fields it does not know. */
  parse(body: unknown, route: RouteParams): Parsed<Options>;
  /** The encoder for one response, made when the request has its slot. */
  encoder(request: CompletionRequest, options: Options, timing: GenerationTiming): ResponseEncoder;
  /** An error response in this server's shape; a format may answer another status (TGI: 422). */
  error(err: SimError): ErrorReply;
}

/** Encodes one response. Constant parts are built once per response; chunk() runs per token. */
export interface ResponseEncoder {
  /** Headers of a streamed response (its content type). */
  readonly streamHeaders: Readonly<Record<string, string>>;
  /** Text choice `index` produced in one decode step (never ''). */
  chunk(index: number, text: string): string;
  /** The step that ends `choice`: its last text (may be '') and what the format sends at a choice's end. */
  finish(choice: ChoiceResult, text: string): string;
  /** What follows the last choice's finish in a stream (`data: [DONE]`, or nothing). */
  end(): string;
  /** The whole non-streaming body. */
  body(choices: readonly ChoiceResult[], promptTokens: number, completionTokens: number): string;
  /** An error event inside a stream that has started (x-sim-error-after); the stream ends after it. */
  streamError(message: string): string;
}

/** Why a choice ended, in the simulator's words; each format maps it to its own vocabulary. */
export type FinishReason = 'stop' | 'length';

/** A choice as it ended: the generation's own record, read-only here (no copy per response). */
export interface ChoiceResult {
  readonly index: number;
  /** The whole text; accumulated for non-streaming responses only ('' in a stream). */
  readonly text: string;
  readonly tokens: number;
  readonly finishReason: FinishReason;
  /** The stop sequence that ended the choice; '' when none did (length, or end of sequence). */
  readonly stopWord: string;
}

/**
 * The simulated GPU's schedule for this generation (first token ttftMs after the slot, then one
 * step every tokenMs), for formats that report timings (llama.cpp `timings`, Ollama durations).
 */
export interface GenerationTiming {
  ttftMs: number;
  tokenMs: number;
}

export interface FormatDefaults {
  /** Negative: until the simulator's cap (llama.cpp's and Ollama's -1, an unset TGI max_new_tokens). */
  maxTokens: number;
  stream: boolean;
}

/** What the route contributes to parsing. */
export interface RouteParams extends FormatDefaults {
  /** The model the path names (Copilot engine, Azure deployment); undefined when the body names it. */
  pathModel: string | undefined;
  /** The simulator's cap on any request's tokens (--max-tokens). */
  maxTokensCap: number;
}

/** The request line and headers, for checks made before the body. */
export interface RequestHead {
  readonly headers: Readonly<Record<string, string>>;
  /** The query string without its '?' ('' when none). */
  readonly query: string;
}

export type Parsed<Options> =
  | { ok: true; request: CompletionRequest; options: Options }
  | { ok: false; param: string | null; message: string };

/** What went wrong, in the simulator's words; each format decides the status and body it sends. */
export interface SimError {
  status: number;
  kind: ErrorKind;
  message: string;
  param: string | null;
}

export type ErrorKind =
  | 'invalid_request'
  | 'invalid_json'
  | 'invalid_header'
  | 'body_too_large'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'simulated_error'
  | 'overloaded'
  | 'generation'
  | 'internal';

/** A format's error response. An empty body is sent without a content type (a bare status). */
export interface ErrorReply {
  status: number;
  body: string;
}

export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
});

/** The name the simulator answers with when a request names no model. */
export const DEFAULT_MODEL = 'ghostwire-sim';

/** A rough prompt token count for usage fields (about four characters per token for code). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** True when `Authorization: Bearer <apiKey>` was presented (or no key is required). */
export function hasBearer(head: RequestHead, apiKey: string): boolean {
  return apiKey === '' || head.headers.authorization === `Bearer ${apiKey}`;
}

/** The refusal every format starts from when the credential is wrong; its error() shapes it. */
export function unauthorized(message = 'Invalid API key.'): SimError {
  return { status: 401, kind: 'unauthorized', message, param: null };
}

/** Caps a requested token count: undefined or negative (llama.cpp, Ollama: -1) means "until the cap". */
export function capTokens(requested: number | undefined, fallback: number, cap: number): number {
  const n = requested === undefined ? fallback : requested;
  return n < 0 ? cap : Math.min(n, cap);
}
