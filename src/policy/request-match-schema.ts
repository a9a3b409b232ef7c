import { z } from 'zod';
import type { ClientProtocolName } from '../protocol/client/protocol.js';

/** Every client protocol a match may name (checked against the type: a new protocol must be added here). */
const PROTOCOL_NAMES = [
  'copilot',
  'openai',
  'codestral',
  'tabby',
] as const satisfies readonly ClientProtocolName[];
type Missing = Exclude<ClientProtocolName, (typeof PROTOCOL_NAMES)[number]>;
const _allProtocolsListed: Missing extends never ? true : never = true;

/**
 * `match`: which requests an experiment or a mirror applies to. Every field given must match; a
 * missing field matches everything, and so does a missing `match`.
 */
export const RequestMatchConfig = z.strictObject({
  /** A model name (or alias) as configured in `models`, or a list; a request matches by the model it resolves to. */
  model: oneOrMany(z.string().min(1)).optional(),
  /** A client protocol (copilot, openai, codestral, tabby), or a list. */
  protocol: oneOrMany(z.enum(PROTOCOL_NAMES)).optional(),
});

/** `x` or `[x, ...]`, always a list once parsed. */
function oneOrMany<T extends z.ZodType<string>>(item: T) {
  return z
    .union([item, z.array(item).min(1).max(64)])
    .transform((v): z.output<T>[] => (Array.isArray(v) ? v : [v]));
}

export type RequestMatchConfig = z.output<typeof RequestMatchConfig>;
