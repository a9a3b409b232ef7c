// Credential verifiers for token exchange: one file per identity source, one interface, one factory.
export {
  credentialFromHeader,
  MAX_CREDENTIAL_LENGTH,
  type CredentialVerifier,
  type GithubVerifierConfig,
  type OidcVerifierConfig,
  type StaticUser,
  type StaticVerifierConfig,
} from './verifier.js';
export { createVerifier } from './factory.js';
export { createStaticVerifier, generateApiKey, hashApiKey, StaticVerifier } from './static.js';
export { createOidcVerifier, OIDC_ALGORITHMS, OidcVerifier, type OidcVerifierOptions } from './oidc.js';
export { createGithubVerifier, GithubVerifier, type GithubVerifierOptions } from './github.js';
