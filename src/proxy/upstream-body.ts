import type { CompletionBody } from './validate.js';

/**
 * The body to send upstream. When the client's bytes already say what the upstream needs, they
 * pass through untouched; otherwise the smallest change is made.
 */
export function upstreamBody(
  raw: Buffer,
  body: CompletionBody,
  adapter: 'openai' | 'copilot',
  upstreamModel: string,
): Buffer {
  // The Copilot format names the model in the path, so the body goes as it came.
  if (adapter === 'copilot') return raw;
  if (body.model === upstreamModel) return raw;
  if (body.model === undefined) return spliceModel(raw, upstreamModel);
  return Buffer.from(JSON.stringify({ ...body, model: upstreamModel }));
}

/**
 * Inserts `"model":"…",` after the opening brace. Only called on a validated JSON object that has
 * no model key and at least one other key (prompt is required), so the result is valid JSON;
 * it saves a full re-serialisation of a prompt that may be many kilobytes.
 */
function spliceModel(raw: Buffer, model: string): Buffer {
  const brace = raw.indexOf(0x7b /* { */);
  const insert = Buffer.from(`"model":${JSON.stringify(model)},`);
  return Buffer.concat([raw.subarray(0, brace + 1), insert, raw.subarray(brace + 1)]);
}
