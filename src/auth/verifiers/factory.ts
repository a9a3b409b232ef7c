import type { VerifierConfig } from '../../config/schema.js';
import { StaticVerifier } from './static.js';
import type { CredentialVerifier } from './verifier.js';

/**
 * Builds the verifier the config names; rejects (at start) if the config is inconsistent. The
 * OIDC and GitHub verifiers are loaded only when configured: they bring jose and zod, heap that
 * a gateway with API keys would carry for nothing (see loadHttp1Transport for why heap matters).
 */
export async function createVerifier(cfg: VerifierConfig): Promise<CredentialVerifier> {
  switch (cfg.type) {
    case 'static':
      return new StaticVerifier(cfg.users);
    case 'oidc':
      return new (await import('./oidc.js')).OidcVerifier(cfg);
    case 'github':
      return new (await import('./github.js')).GithubVerifier(cfg);
  }
}
