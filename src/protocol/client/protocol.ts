import type { ClientInfo, CompletionEvent, CompletionRequest, WireFormat } from '../model.js';

/** The client protocols ghostwire serves. */
export type ClientProtocolName = 'copilot' | 'openai' | 'codestral' | 'tabby';

/** What a protocol's decoder gets: the parsed body and what the route and headers say. */
export interface DecodeInput {
  readonly body: Readonly<Record<string, unknown>>;
  readonly raw: Buffer;
  /** The Copilot engine from the path; undefined on other routes. */
  readonly engine: string | undefined;
  readonly client: ClientInfo;
}

/** Names and times one response carries (OpenAI's `id`, `created`, `model`). */
export interface ResponseMeta {
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  /** The model name the client asked for (or the configured one it was routed to). */
  readonly model: string;
}

/** Turns events into one response's bytes, in the client's format. */
export interface ClientEncoder {
  readonly contentType: string;
  /** Streaming: the bytes for this event ('' when it makes none). Non-streaming: keeps it, returns ''. */
  event(e: CompletionEvent): string;
  /** The closing bytes: `data: [DONE]` for a stream, the whole body otherwise. */
  end(): string;
}

/** One client-facing protocol: decodes its requests, encodes the answers. One file each. */
export interface ClientProtocol {
  readonly name: ClientProtocolName;
  /** The wire format of its answers: when an upstream answers in the same one, bytes may pass through. */
  readonly responseFormat: WireFormat;
  /** Validates and normalizes a request; throws GW_INVALID_REQUEST naming the field. */
  decode(input: DecodeInput): CompletionRequest;
  /** The encoder for one answer to `req`. */
  encoder(req: CompletionRequest, meta: ResponseMeta): ClientEncoder;
}

/**
 * Which protocol a body on a route speaks: a route usually has one, but `/v1/completions` is both
 * OpenAI's and Tabby's, told apart by the body.
 */
export type ProtocolChoice = (body: Readonly<Record<string, unknown>>) => ClientProtocol;
