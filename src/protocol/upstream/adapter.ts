import type { CompiledFimTemplate } from '../fim-templates.js';
import type { CompletionRequest, EventSink, WireFormat } from '../model.js';

/** The upstream wire formats ghostwire has adapters for (a deployment's `adapter`). */
export type AdapterName =
  'openai' | 'copilot' | 'azure-openai' | 'vllm' | 'llamacpp' | 'ollama' | 'tgi' | 'codestral';

/** What an adapter knows of one deployment-and-model pair, fixed when the config is loaded. */
export interface UpstreamTarget {
  /** The path prefix from the deployment URL, without a trailing slash ('' when none). */
  readonly basePath: string;
  /** The model name the upstream knows. */
  readonly upstreamModel: string;
  /** `"model":"<upstreamModel>",` as bytes, for splicing into a client body (openai.ts). */
  readonly modelField: Buffer;
  /** The deployment's FIM template, for servers that take a raw prompt (vLLM, TGI). */
  readonly fimTemplate: CompiledFimTemplate | undefined;
  /** Azure OpenAI: the deployment name in the URL and the api-version query value. */
  readonly azure: { readonly deployment: string; readonly apiVersion: string } | undefined;
}

/** Turns one response stream's bytes into events. Throws a GatewayError on an in-band error. */
export interface StreamDecoder {
  push(chunk: Buffer, emit: EventSink): void;
  /** The upstream ended the stream: flush what is buffered. */
  end(emit: EventSink): void;
}

/**
 * One upstream wire format: where to send a completion, the body to send, and how to read the
 * streamed answer back. One file per format; nothing outside it knows the format's details.
 */
export interface UpstreamAdapter {
  readonly name: AdapterName;
  /** The wire format of its answers (the gateway always asks for a stream). */
  readonly responseFormat: WireFormat;
  /** Choices one request can ask for; the gateway fans out to reach `n` when this is 1. */
  readonly maxChoices: number;
  /** Servers that need a FIM template to complete in the middle (they cannot take `suffix`). */
  readonly needsFimTemplate: boolean;
  /**
   * The server ends a choice at a stop sequence but leaves the stop in the text (TGI): the
   * gateway removes it even when the deployment trusts the server's stop handling.
   */
  readonly keepsStopSequence?: true;
  /** The path (and query) a completion is POSTed to. */
  path(target: UpstreamTarget): string;
  /**
   * The body to POST. `passThrough`: the answer goes to the client as the upstream sends it, so
   * the client's own bytes are reused wherever they already say what the upstream needs.
   * Otherwise the gateway reads the stream: the body asks for one (`stream: true`).
   */
  body(req: CompletionRequest, target: UpstreamTarget, passThrough: boolean): Buffer;
  /** A decoder for one streamed answer to `req`. */
  decoder(req: CompletionRequest): StreamDecoder;
}
