import { codestralProtocol } from './codestral.js';
import { copilotProtocol } from './copilot.js';
import { openaiProtocol } from './openai.js';
import type { ClientProtocol, ClientProtocolName } from './protocol.js';

/** Every client protocol by name. Adding one: one file and one line here (plus its route). */
export const CLIENT_PROTOCOLS: Readonly<Partial<Record<ClientProtocolName, ClientProtocol>>> = {
  copilot: copilotProtocol,
  openai: openaiProtocol,
  codestral: codestralProtocol,
};

/** Tabby's protocol routes to a configured model, so each gateway builds its own from its settings. */
export { openaiOrTabby, tabbyProtocol, type TabbySettings } from './tabby.js';

export type {
  ClientEncoder,
  ClientProtocol,
  ClientProtocolName,
  DecodeInput,
  ProtocolChoice,
  ResponseMeta,
} from './protocol.js';
