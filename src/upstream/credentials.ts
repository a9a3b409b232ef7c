import type { CredentialConfig } from '../config/schema.js';
import { resolveSecret } from '../config/secrets.js';

/**
 * The headers that carry a deployment's own key to the model server. They are added on the
 * upstream leg only; nothing the client sent in Authorization is ever forwarded.
 */
export function credentialHeaders(cred: CredentialConfig, where: string): Record<string, string> {
  switch (cred.type) {
    case 'none':
      return {};
    case 'bearer':
      return { authorization: `Bearer ${resolveSecret(cred.token, `${where}.token`)}` };
    case 'header':
      return { [cred.header.toLowerCase()]: resolveSecret(cred.value, `${where}.value`) };
  }
}
