import type http2 from 'node:http2';
import type { Identity } from '../../../src/auth/identity.js';
import { KeyRing } from '../../../src/auth/token/key-ring.js';
import { mintToken } from '../../../src/auth/token/mint.js';
import { hashApiKey } from '../../../src/auth/verifiers/index.js';
import { copilotBody, h2request, type Received } from '../../helpers/clients.js';

const SECRET = 'limits-test-secret-0123456789abcdef0123';

/** auth.mode tokens with one signing key: rate limits key on the verified identity. */
export const AUTH = {
  signingKeys: [{ id: 'k1', secret: SECRET }],
  verifier: {
    type: 'static' as const,
    users: [{ uid: 'unused', apiKeySha256: hashApiKey('unused-key-0123456789') }],
  },
};

const ring = new KeyRing([{ id: 'k1', retired: false, secret: SECRET }]);

/** A gateway token for `uid` (org and sku as given), valid for an hour. */
export function tokenFor(uid: string, opts: { org?: string; sku?: string } = {}): string {
  const identity: Identity = { uid, login: uid, sku: opts.sku ?? 'free', org: opts.org };
  return mintToken({
    ring,
    identity,
    lifetimeS: 3600,
    nowS: Date.now() / 1000,
    proxyEp: '127.0.0.1',
    flags: {},
  }).token;
}

/** One completion as `token`, on an open HTTP/2 session. */
export function complete(
  session: http2.ClientHttp2Session,
  token: string,
  extra: Record<string, unknown> = {},
): Promise<Received> {
  return h2request(session, '/v1/engines/default/completions', copilotBody({ stream: true, ...extra }), {
    authorization: `Bearer ${token}`,
  });
}

/** The error code of a JSON error body, or undefined. */
export function codeOf(r: Received): string | undefined {
  try {
    const body = JSON.parse(r.body) as { error?: { code?: string } };
    return body.error?.code;
  } catch {
    return undefined;
  }
}
