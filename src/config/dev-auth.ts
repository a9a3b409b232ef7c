import { randomBytes } from 'node:crypto';
import { generateApiKey, hashApiKey } from '../auth/verifiers/static.js';
import type { GatewayConfigInput } from './schema.js';

/** The environment variable that fixes the dev user's API key (otherwise a random one is printed). */
export const DEV_KEY_ENV = 'GHOSTWIRE_DEV_KEY';

/** The dev user's credential: shown at start so a newcomer can exchange it for a token. */
export interface DevCredentials {
  readonly uid: string;
  readonly apiKey: string;
  /** True when the key came from GHOSTWIRE_DEV_KEY: then it is not printed, only named. */
  readonly fromEnv: boolean;
}

/**
 * Auth for runs without a config file (embedded default, --upstream): a fresh random signing key
 * (tokens do not survive a restart, which suits development) and one static dev user.
 */
export function devAuth(env: NodeJS.ProcessEnv = process.env): {
  auth: NonNullable<GatewayConfigInput['auth']>;
  credentials: DevCredentials;
} {
  const fromEnv = env[DEV_KEY_ENV] !== undefined && env[DEV_KEY_ENV] !== '';
  const apiKey = fromEnv ? (env[DEV_KEY_ENV] as string) : generateApiKey();
  return {
    auth: {
      mode: 'tokens',
      signingKeys: [{ id: 'dev', secret: randomBytes(32).toString('base64url') }],
      verifier: {
        type: 'static',
        users: [
          { uid: 'dev', login: 'dev', sku: 'copilot_enterprise_seat', apiKeySha256: hashApiKey(apiKey) },
        ],
      },
    },
    credentials: { uid: 'dev', apiKey, fromEnv },
  };
}
