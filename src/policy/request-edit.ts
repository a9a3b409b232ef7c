import { spliceFields } from '../protocol/json-splice.js';
import type { CompletionRequest, WireFormat } from '../protocol/model.js';

/** Sampling fields a policy sets on a request, normalized (an arm's `params`). */
export interface RequestParams {
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly stop?: readonly string[];
}

/**
 * Client body formats whose sampling fields have OpenAI's names (max_tokens, temperature, top_p,
 * stop): an upstream adapter may send such a body, or its bytes, as it came, so it must say what
 * the normalized request says. Other formats (Tabby) are never reused upstream: only the
 * normalized fields matter there.
 */
const OPENAI_NAMED: ReadonlySet<WireFormat> = new Set<WireFormat>(['openai-completions', 'mistral-fim']);

/**
 * The request with `params` set, its normalized fields, its parsed body and its bytes agreeing:
 * adapters reuse the client's bytes when formats match (protocol/upstream/openai.ts), so a
 * changed field must be in them too: the edits are spliced into the bytes (the prompt is copied,
 * not re-serialized). Only requests whose parameters change pay it.
 */
export function withParams(req: CompletionRequest, params: RequestParams): CompletionRequest {
  const fields: Record<string, unknown> = {};
  if (params.maxTokens !== undefined) fields.max_tokens = params.maxTokens;
  if (params.temperature !== undefined) fields.temperature = params.temperature;
  if (params.topP !== undefined) fields.top_p = params.topP;
  if (params.stop !== undefined && params.stop.length > 0) fields.stop = params.stop;
  let { body, raw } = req;
  if (OPENAI_NAMED.has(req.origin)) {
    const edited: Record<string, unknown> = { ...body, ...fields };
    // No stop sequences: the field goes (some servers refuse an empty list).
    if (params.stop?.length === 0) delete edited.stop;
    body = edited;
    // The bytes with the same edits spliced in (the prompt is copied, not re-serialized).
    const edits = new Map<string, unknown>(Object.entries(fields));
    if (params.stop?.length === 0) edits.set('stop', undefined);
    raw = raw === undefined ? undefined : spliceFields(raw, edits);
  }
  return {
    ...req,
    maxTokens: params.maxTokens ?? req.maxTokens,
    temperature: params.temperature ?? req.temperature,
    topP: params.topP ?? req.topP,
    stop: params.stop ?? req.stop,
    body,
    raw,
  };
}
