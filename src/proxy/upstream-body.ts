import type { CompletionBody } from './validate.js';

/**
 * The body to send upstream. When the client's bytes already say what the upstream needs, they
 * pass through untouched; otherwise the smallest change is made. `modelField` is the model's
 * `"model":"<upstream name>",` as bytes, built once per model (see Registry).
 */
export function upstreamBody(
  raw: Buffer,
  body: CompletionBody,
  adapter: 'openai' | 'copilot',
  upstreamModel: string,
  modelField: Buffer,
): Buffer {
  // The Copilot format names the model in the path, so the body goes as it came.
  if (adapter === 'copilot') return raw;
  if (body.model === upstreamModel) return raw;
  if (body.model === undefined) return spliceModel(raw, modelField);
  return Buffer.from(JSON.stringify({ ...body, model: upstreamModel }));
}

/** `"model":"<name>",`: what spliceModel inserts. */
export function modelFieldBytes(upstreamModel: string): Buffer {
  return Buffer.from(`"model":${JSON.stringify(upstreamModel)},`);
}

/**
 * Inserts the model field after the opening brace. Only called on a validated JSON object that
 * has no model key and at least one other key (prompt is required), so the result is valid JSON;
 * it saves a full re-serialisation of a prompt that may be many kilobytes. One allocation and
 * three copies: this runs on every Copilot-protocol request to an OpenAI-style server.
 */
function spliceModel(raw: Buffer, field: Buffer): Buffer {
  const at = raw.indexOf(0x7b /* { */) + 1;
  const out = Buffer.allocUnsafe(raw.length + field.length);
  raw.copy(out, 0, 0, at);
  field.copy(out, at);
  raw.copy(out, at + field.length, at);
  return out;
}
