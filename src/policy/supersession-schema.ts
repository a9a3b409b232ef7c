import { z } from 'zod';

/**
 * `policy.supersession`: a new request with the same key as an older one still in flight ends
 * the older one (its client gets a `superseded` finish; its model stream is reset).
 */
export const SupersessionConfig = z.strictObject({
  /** Off by default: clients that reset their streams do not need it. */
  enabled: z.boolean().default(false),
  /** A header a client may send with its own key (any string); it replaces the derived one. */
  keyHeader: z
    .string()
    .regex(/^[a-z0-9-]+$/, 'expected a lower-case header name')
    .default('x-ghostwire-supersede'),
  /** The editor session header (Copilot's VScode-SessionId), the first part of the derived key. */
  sessionHeader: z
    .string()
    .regex(/^[a-z0-9-]+$/, 'expected a lower-case header name')
    .default('vscode-sessionid'),
  /**
   * How much of the prompt's beginning identifies the document (Copilot prompts open with the
   * file's path and imports), never including its last 128 characters, where the user types.
   * 0: the session alone is the key.
   */
  promptChars: z.number().int().min(0).max(65_536).default(256),
});

export type SupersessionConfig = z.output<typeof SupersessionConfig>;
