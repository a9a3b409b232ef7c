import type { VerifierConfig } from '../../config/schema.js';
import { GithubVerifier } from './github.js';
import { OidcVerifier } from './oidc.js';
import { StaticVerifier } from './static.js';
import type { CredentialVerifier } from './verifier.js';

/** Builds the verifier the config names; throws (at start) if the config is inconsistent. */
export function createVerifier(cfg: VerifierConfig): CredentialVerifier {
  switch (cfg.type) {
    case 'static':
      return new StaticVerifier(cfg.users);
    case 'oidc':
      return new OidcVerifier(cfg);
    case 'github':
      return new GithubVerifier(cfg);
  }
}
