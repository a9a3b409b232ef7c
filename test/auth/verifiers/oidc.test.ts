import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { OidcVerifier, type OidcVerifierOptions } from '../../../src/auth/verifiers/oidc.js';
import type { OidcVerifierConfig } from '../../../src/auth/verifiers/verifier.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { deadUrl, localServer, NEVER, rejectsWith, type LocalServer } from './helpers.js';

const ISSUER = 'https://idp.test/realms/dev';
const AUDIENCE = 'ghostwire';

interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function signingKey(kid: string, alg: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/**
 * A JWT from the test IdP: valid for an hour unless the claims or options say otherwise. A claim
 * set to undefined is left out.
 */
function jwt(
  key: SigningKey,
  claims: Record<string, unknown> = {},
  opts: { kid?: string; exp?: number | null } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = Object.fromEntries(
    Object.entries({ sub: 'user-123', preferred_username: 'jdoe', ...claims }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  const b = new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: opts.kid ?? key.kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now);
  if (opts.exp !== null) b.setExpirationTime(opts.exp ?? now + 3600);
  return b.sign(key.privateKey);
}

/** The IdP's JWKS endpoint, served by the test over a real socket. */
interface FakeIdp {
  server: LocalServer;
  keys: JWK[];
  mode: 'ok' | 'error' | 'hang';
  fetches: number;
}

async function fakeIdp(keys: JWK[]): Promise<FakeIdp> {
  const idp: FakeIdp = { server: undefined as unknown as LocalServer, keys, mode: 'ok', fetches: 0 };
  idp.server = await localServer((req, res) => {
    if (req.url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    idp.fetches++;
    if (idp.mode === 'hang') return; // never answers; the server's close() drops the socket
    if (idp.mode === 'error') {
      res.writeHead(500).end('oops');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: idp.keys }));
  });
  return idp;
}

function config(jwksUrl: string, over: Partial<OidcVerifierConfig> = {}): OidcVerifierConfig {
  return {
    type: 'oidc',
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUrl,
    claims: { uid: 'sub', login: 'preferred_username', sku: 'plan', org: 'groups' },
    defaultSku: 'copilot_enterprise_seat',
    timeoutMs: 1000,
    ...over,
  };
}

describe('oidc verifier', () => {
  let rsa: SigningKey;
  let ec: SigningKey;
  let ed: SigningKey;
  let idp: FakeIdp;
  const jwksUrl = (): string => `${idp.server.url}/jwks`;
  const verifier = (over: Partial<OidcVerifierConfig> = {}, opts: OidcVerifierOptions = {}): OidcVerifier =>
    new OidcVerifier(config(jwksUrl(), over), opts);

  before(async () => {
    [rsa, ec, ed] = await Promise.all([
      signingKey('rsa-1', 'RS256'),
      signingKey('ec-1', 'ES256'),
      signingKey('ed-1', 'EdDSA'),
    ]);
    idp = await fakeIdp([rsa.jwk, ec.jwk, ed.jwk]);
  });
  after(async () => {
    await idp.server.close();
  });

  it('maps sub, preferred_username and the configured sku/org claims (first string of an array)', async () => {
    const token = await jwt(rsa, { plan: 'copilot_for_business_seat', groups: [7, 'acme', 'other'] });
    assert.deepEqual(await verifier().verify(token, NEVER), {
      uid: 'user-123',
      login: 'jdoe',
      sku: 'copilot_for_business_seat',
      org: 'acme',
    });
  });

  it('falls back to uid for login, defaultSku for sku, and no org', async () => {
    const token = await jwt(ec, { preferred_username: undefined });
    assert.deepEqual(await verifier().verify(token, NEVER), {
      uid: 'user-123',
      login: 'user-123',
      sku: 'copilot_enterprise_seat',
      org: undefined,
    });
    const unmapped = verifier({ claims: { uid: 'oid', login: 'email' } });
    const t2 = await jwt(ed, { oid: 'object-9', email: 'j@example.com', plan: 'x', groups: 'acme' });
    assert.deepEqual(await unmapped.verify(t2, NEVER), {
      uid: 'object-9',
      login: 'j@example.com',
      sku: 'copilot_enterprise_seat',
      org: undefined,
    });
  });

  it('accepts RS256, ES256 and EdDSA keys from the same JWKS, fetching it once', async () => {
    const before = idp.fetches;
    const v = verifier();
    for (const k of [rsa, ec, ed]) assert.equal((await v.verify(await jwt(k), NEVER)).uid, 'user-123');
    assert.equal(idp.fetches - before, 1);
  });

  it('refuses a token without a usable uid claim', async () => {
    const token = await jwt(rsa, { sub: undefined });
    const err = await rejectsWith(verifier().verify(token, NEVER), 'GW_CREDENTIAL_INVALID', token);
    assert.match(err.detail ?? '', /"sub"/);
  });

  // Key rotation at the IdP: a token signed with a key published after the JWKS was cached must be
  // accepted once the verifier refetches the set, without a restart.
  it('accepts a key that appears in the JWKS after the first fetch (rotation)', async () => {
    const v = verifier({}, { jwksCooldownMs: 0 });
    await v.verify(await jwt(rsa), NEVER);
    const fetched = idp.fetches;
    const rotated = await signingKey('rsa-2', 'RS256');
    idp.keys = [...idp.keys, rotated.jwk];
    try {
      const identity = await v.verify(await jwt(rotated, { sub: 'rotated-user' }), NEVER);
      assert.equal(identity.uid, 'rotated-user');
      assert.equal(idp.fetches, fetched + 1, 'one refetch for the new kid');
      await v.verify(await jwt(rotated), NEVER);
      assert.equal(idp.fetches, fetched + 1, 'the new key is cached afterwards');
    } finally {
      idp.keys = idp.keys.filter((k) => k.kid !== 'rsa-2');
    }
  });

  it('refetches for an unknown kid at most once per cooldown (forged kids cannot flood the IdP)', async () => {
    const v = verifier();
    await v.verify(await jwt(rsa), NEVER);
    const fetched = idp.fetches;
    const stranger = await signingKey('unknown-kid', 'RS256');
    for (let i = 0; i < 3; i++) {
      const token = await jwt(stranger);
      const err = await rejectsWith(v.verify(token, NEVER), 'GW_CREDENTIAL_INVALID', token);
      assert.match(err.detail ?? '', /ERR_JWKS_NO_MATCHING_KEY/);
    }
    assert.equal(idp.fetches, fetched, 'within the cooldown the cached set answers');
  });

  it('refuses a token signed by an unknown key, with or without a known kid', async () => {
    const v = verifier({}, { jwksCooldownMs: 0 });
    const stranger = await signingKey('nobody', 'RS256');
    const unknownKid = await jwt(stranger);
    let err = await rejectsWith(v.verify(unknownKid, NEVER), 'GW_CREDENTIAL_INVALID', unknownKid);
    assert.match(err.detail ?? '', /ERR_JWKS_NO_MATCHING_KEY/);
    // Claims to be the IdP's key: the signature gives it away.
    const forged = await jwt(stranger, {}, { kid: rsa.kid });
    err = await rejectsWith(v.verify(forged, NEVER), 'GW_CREDENTIAL_INVALID', forged);
    assert.match(err.detail ?? '', /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  });

  it('refuses an expired token (past the clock tolerance) with ERR_JWT_EXPIRED', async () => {
    const token = await jwt(rsa, {}, { exp: Math.floor(Date.now() / 1000) - 120 });
    const err = await rejectsWith(verifier().verify(token, NEVER), 'GW_CREDENTIAL_INVALID', token);
    assert.match(err.detail ?? '', /ERR_JWT_EXPIRED/);
  });

  it('refuses a token without exp: it would never expire', async () => {
    const token = await jwt(rsa, {}, { exp: null });
    const err = await rejectsWith(verifier().verify(token, NEVER), 'GW_CREDENTIAL_INVALID', token);
    assert.match(err.detail ?? '', /"exp" missing/);
  });

  it('refuses a wrong audience and a wrong issuer', async () => {
    const token = await jwt(rsa);
    let err = await rejectsWith(
      verifier({ audience: 'another-app' }).verify(token, NEVER),
      'GW_CREDENTIAL_INVALID',
      token,
    );
    assert.match(err.detail ?? '', /ERR_JWT_CLAIM_VALIDATION_FAILED: "aud" check_failed/);
    err = await rejectsWith(
      verifier({ issuer: 'https://evil.test' }).verify(token, NEVER),
      'GW_CREDENTIAL_INVALID',
      token,
    );
    assert.match(err.detail ?? '', /"iss" check_failed/);
  });

  it('refuses HS256 and alg none before looking at the JWKS', async () => {
    const v = new OidcVerifier(config(await deadUrl()));
    const hs = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!'));
    let err = await rejectsWith(v.verify(hs, NEVER), 'GW_CREDENTIAL_INVALID', hs);
    assert.match(err.detail ?? '', /ERR_JOSE_ALG_NOT_ALLOWED/);
    const none = new UnsecuredJWT({ sub: 'x' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('1h')
      .encode();
    err = await rejectsWith(v.verify(none, NEVER), 'GW_CREDENTIAL_INVALID', none);
    assert.match(err.detail ?? '', /ERR_JOSE_ALG_NOT_ALLOWED/);
  });

  it('refuses malformed tokens', async () => {
    const v = verifier();
    for (const bad of ['not-a-jwt-SECRET', 'a.b.c-SECRET', `${(await jwt(rsa)).slice(0, -4)}AAAA`])
      await rejectsWith(v.verify(bad, NEVER), 'GW_CREDENTIAL_INVALID', bad);
  });

  it('answers GW_AUTH_UNAVAILABLE when the JWKS server is down', async () => {
    const v = new OidcVerifier(config(`${await deadUrl()}/jwks`));
    const token = await jwt(rsa);
    const err = await rejectsWith(v.verify(token, NEVER), 'GW_AUTH_UNAVAILABLE', token);
    assert.equal(err.retryAfterS, 5);
    assert.match(err.detail ?? '', /ECONNREFUSED/);
  });

  it('answers GW_AUTH_UNAVAILABLE when the JWKS server errors or does not answer in time', async () => {
    const token = await jwt(rsa);
    try {
      idp.mode = 'error';
      await rejectsWith(verifier().verify(token, NEVER), 'GW_AUTH_UNAVAILABLE', token);
      idp.mode = 'hang';
      const started = Date.now();
      const err = await rejectsWith(
        verifier({ timeoutMs: 150 }).verify(token, NEVER),
        'GW_AUTH_UNAVAILABLE',
        token,
      );
      assert.match(err.detail ?? '', /ERR_JWKS_TIMEOUT/);
      assert.ok(Date.now() - started < 1500, 'bounded by timeoutMs');
    } finally {
      idp.mode = 'ok';
    }
  });

  it('stops waiting when the caller aborts, with the caller’s reason', async () => {
    const token = await jwt(rsa);
    try {
      idp.mode = 'hang';
      const ac = new AbortController();
      const reason = new GatewayError('GW_CLIENT_CLOSED');
      const p = verifier({ timeoutMs: 2000 }).verify(token, ac.signal);
      setTimeout(() => ac.abort(reason), 20);
      await assert.rejects(p, (err) => err === reason);
    } finally {
      idp.mode = 'ok';
    }
  });
});
