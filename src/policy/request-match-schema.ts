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
  /** Model names (or aliases) as configured in `models`; a request matches by the model it resolves to. */
  models: z.array(z.string().min(1)).min(1).optional(),
  /** Client protocols: copilot, openai, codestral, tabby. */
  protocols: z.array(z.enum(PROTOCOL_NAMES)).min(1).optional(),
});

export type RequestMatchConfig = z.output<typeof RequestMatchConfig>;
