import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { GithubVerifier, type GithubVerifierOptions } from '../../../src/auth/verifiers/github.js';
import type { GithubVerifierConfig } from '../../../src/auth/verifiers/verifier.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { deadUrl, localServer, NEVER, rejectsWith, type LocalServer } from './helpers.js';

/** How the fake GitHub answers for one token. */
interface Account {
  status?: number;
  headers?: Record<string, string>;
  user?: { id: number; login: string };
  orgs?: string[];
  orgsStatus?: number;
  delayMs?: number;
}

/** A fake of the GitHub REST API over a real socket: checks the headers and records each call. */
interface FakeGithub {
  server: LocalServer;
  accounts: Map<string, Account>;
  calls: { path: string; token: string }[];
  /** Requests whose client went away before the answer was sent. */
  abandoned: number;
  badHeaders: string[];
}

async function fakeGithub(prefix: string): Promise<FakeGithub> {
  const gh: FakeGithub = {
    server: undefined as unknown as LocalServer,
    accounts: new Map(),
    calls: [],
    abandoned: 0,
    badHeaders: [],
  };
  gh.server = await localServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
    const token = /^token (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    gh.calls.push({ path: `${path}${url.search}`, token });
    if (req.headers.accept !== 'application/vnd.github+json')
      gh.badHeaders.push(`accept ${req.headers.accept}`);
    if (req.headers['user-agent'] !== 'ghostwire')
      gh.badHeaders.push(`user-agent ${req.headers['user-agent']}`);
    if (token === '') gh.badHeaders.push(`authorization ${req.headers.authorization}`);
    const account = gh.accounts.get(token);
    res.on('close', () => {
      if (!res.writableEnded) gh.abandoned++;
    });
    const answer = (): void => {
      if (res.destroyed) return;
      if (account === undefined) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Bad credentials"}');
        return;
      }
      if (path === '/user') {
        const status = account.status ?? 200;
        res
          .writeHead(status, { 'content-type': 'application/json', ...account.headers })
          .end(status === 200 ? JSON.stringify({ ...account.user, type: 'User', site_admin: false }) : '{}');
        return;
      }
      if (path === '/user/orgs') {
        const perPage = Number(url.searchParams.get('per_page') ?? 30);
        const page = Number(url.searchParams.get('page') ?? 1);
        const orgs = (account.orgs ?? []).slice((page - 1) * perPage, page * perPage);
        res
          .writeHead(account.orgsStatus ?? 200, { 'content-type': 'application/json' })
          .end(JSON.stringify(orgs.map((login, i) => ({ login, id: i, url: 'x' }))));
        return;
      }
      res.writeHead(404).end('{}');
    };
    if (account?.delayMs !== undefined) setTimeout(answer, account.delayMs);
    else answer();
  });
  return gh;
}

const TOKEN = 'gho_OCTOCAT-SECRET-token-0001';

describe('github verifier', () => {
  let gh: FakeGithub;
  let clockMs = 1_000_000;
  const now = (): number => clockMs;
  const verifier = (
    over: Partial<GithubVerifierConfig> = {},
    opts: GithubVerifierOptions = {},
  ): GithubVerifier =>
    new GithubVerifier(
      {
        type: 'github',
        apiBaseUrl: `${gh.server.url}/api/v3/`,
        cacheTtlS: 60,
        allowedOrgs: [],
        sku: 'copilot_for_business_seat',
        timeoutMs: 1000,
        disabledLogins: [],
        ...over,
      },
      { now, ...opts },
    );
  const userCalls = (): number => gh.calls.filter((c) => c.path === '/user').length;

  before(async () => {
    gh = await fakeGithub('/api/v3');
  });
  after(async () => {
    await gh.server.close();
  });
  beforeEach(() => {
    gh.accounts.clear();
    gh.accounts.set(TOKEN, { user: { id: 583231, login: 'octocat' }, orgs: ['github', 'Acme'] });
    gh.calls = [];
    gh.abandoned = 0;
  });
  afterEach(() => {
    assert.deepEqual(gh.badHeaders, [], 'every request carried the token, Accept and User-Agent headers');
  });

  it('asks GET {apiBaseUrl}/user with the token and the GitHub headers, and maps the answer', async () => {
    const identity = await verifier().verify(TOKEN, NEVER);
    assert.deepEqual(identity, {
      uid: '583231',
      login: 'octocat',
      sku: 'copilot_for_business_seat',
      org: undefined,
    });
    assert.deepEqual(gh.calls, [{ path: '/user', token: TOKEN }], 'no /user/orgs call without allowedOrgs');
    assert.deepEqual(gh.badHeaders, []);
  });

  it('answers from the cache within cacheTtlS, and asks GitHub again after it', async () => {
    const v = verifier({ cacheTtlS: 60 });
    await v.verify(TOKEN, NEVER);
    clockMs += 59_000;
    assert.equal((await v.verify(TOKEN, NEVER)).login, 'octocat');
    assert.equal(userCalls(), 1, 'cache hit');
    clockMs += 2_000;
    assert.equal((await v.verify(TOKEN, NEVER)).login, 'octocat');
    assert.equal(userCalls(), 2, 'expired entry refetched');
    assert.equal(v.cacheSize, 1);
  });

  it('coalesces concurrent verifications of one token into one GitHub call', async () => {
    gh.accounts.set(TOKEN, { user: { id: 1, login: 'octocat' }, delayMs: 50 });
    const v = verifier();
    const all = await Promise.all(Array.from({ length: 8 }, () => v.verify(TOKEN, NEVER)));
    assert.equal(userCalls(), 1);
    for (const identity of all) assert.equal(identity.uid, '1');
    // A different token is a different lookup.
    gh.accounts.set('gho_other', { user: { id: 2, login: 'hubot' } });
    await Promise.all([v.verify(TOKEN, NEVER), v.verify('gho_other', NEVER)]);
    assert.equal(userCalls(), 2);
  });

  it('keeps a bounded cache, dropping the oldest identity first', async () => {
    for (let i = 0; i < 3; i++) gh.accounts.set(`gho_user${i}`, { user: { id: i, login: `u${i}` } });
    const v = verifier({}, { maxCacheEntries: 2 });
    for (let i = 0; i < 3; i++) await v.verify(`gho_user${i}`, NEVER);
    assert.equal(v.cacheSize, 2);
    await v.verify('gho_user2', NEVER);
    await v.verify('gho_user1', NEVER);
    assert.equal(userCalls(), 3, 'the two newest are cached');
    await v.verify('gho_user0', NEVER);
    assert.equal(userCalls(), 4, 'the oldest was evicted');
  });

  it('refuses a token GitHub answers 401 for, and does not cache the refusal', async () => {
    const bad = 'gho_REVOKED-SECRET-token';
    const v = verifier();
    await rejectsWith(v.verify(bad, NEVER), 'GW_CREDENTIAL_INVALID', bad);
    await rejectsWith(v.verify(bad, NEVER), 'GW_CREDENTIAL_INVALID', bad);
    assert.equal(userCalls(), 2);
    assert.equal(v.cacheSize, 0);
  });

  it('refuses on 403, but treats a rate-limited 403 or 429 as unavailable with Retry-After', async () => {
    gh.accounts.set(TOKEN, { status: 403 });
    await rejectsWith(verifier().verify(TOKEN, NEVER), 'GW_CREDENTIAL_INVALID', TOKEN);
    const resetS = Math.floor(clockMs / 1000) + 120;
    gh.accounts.set(TOKEN, {
      status: 403,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetS) },
    });
    let err = await rejectsWith(verifier().verify(TOKEN, NEVER), 'GW_AUTH_UNAVAILABLE', TOKEN);
    assert.equal(err.retryAfterS, 120);
    gh.accounts.set(TOKEN, { status: 429, headers: { 'retry-after': '30' } });
    err = await rejectsWith(verifier().verify(TOKEN, NEVER), 'GW_AUTH_UNAVAILABLE', TOKEN);
    assert.equal(err.retryAfterS, 30);
  });

  it('answers GW_AUTH_UNAVAILABLE on a 5xx, and does not cache it', async () => {
    gh.accounts.set(TOKEN, { status: 502 });
    const v = verifier();
    const err = await rejectsWith(v.verify(TOKEN, NEVER), 'GW_AUTH_UNAVAILABLE', TOKEN);
    assert.equal(err.retryAfterS, 5);
    gh.accounts.set(TOKEN, { user: { id: 9, login: 'octocat' } });
    assert.equal((await v.verify(TOKEN, NEVER)).uid, '9');
  });

  it('answers GW_AUTH_UNAVAILABLE when GitHub is slower than timeoutMs, and drops the request', async () => {
    gh.accounts.set(TOKEN, { user: { id: 1, login: 'octocat' }, delayMs: 600 });
    const started = Date.now();
    const err = await rejectsWith(
      verifier({ timeoutMs: 100 }).verify(TOKEN, NEVER),
      'GW_AUTH_UNAVAILABLE',
      TOKEN,
    );
    assert.ok(Date.now() - started < 1000);
    assert.match(err.detail ?? '', /within 100 ms/);
    await waitFor(() => gh.abandoned === 1);
  });

  it('answers GW_AUTH_UNAVAILABLE when GitHub cannot be reached', async () => {
    const v = new GithubVerifier({
      type: 'github',
      apiBaseUrl: await deadUrl(),
      cacheTtlS: 60,
      allowedOrgs: [],
      sku: 's',
      timeoutMs: 1000,
      disabledLogins: [],
    });
    const err = await rejectsWith(v.verify(TOKEN, NEVER), 'GW_AUTH_UNAVAILABLE', TOKEN);
    assert.match(err.detail ?? '', /ECONNREFUSED/);
  });

  it('with allowedOrgs, requires membership and reports the first allowed org matched', async () => {
    const v = verifier({ allowedOrgs: ['other', 'acme', 'github'] });
    // GitHub spells it Acme; org names are case-insensitive and the configured spelling is reported.
    assert.equal((await v.verify(TOKEN, NEVER)).org, 'acme');
    assert.deepEqual(
      gh.calls.map((c) => c.path),
      ['/user', '/user/orgs?per_page=100&page=1'],
    );
    const outsider = verifier({ allowedOrgs: ['other'] });
    const err = await rejectsWith(outsider.verify(TOKEN, NEVER), 'GW_CREDENTIAL_INVALID', TOKEN);
    assert.equal(err.detail, 'not a member of an allowed organisation');
    assert.equal(outsider.cacheSize, 0);
  });

  it('reads further /user/orgs pages when the first is full', async () => {
    const many = Array.from({ length: 150 }, (_, i) => `org-${i}`);
    gh.accounts.set(TOKEN, { user: { id: 1, login: 'octocat' }, orgs: many });
    assert.equal((await verifier({ allowedOrgs: ['org-120'] }).verify(TOKEN, NEVER)).org, 'org-120');
    assert.equal(gh.calls.filter((c) => c.path.startsWith('/user/orgs')).length, 2);
  });

  it('refuses when GitHub will not list the orgs (token lacks read:org)', async () => {
    gh.accounts.set(TOKEN, { user: { id: 1, login: 'octocat' }, orgsStatus: 403 });
    const err = await rejectsWith(
      verifier({ allowedOrgs: ['acme'] }).verify(TOKEN, NEVER),
      'GW_CREDENTIAL_INVALID',
      TOKEN,
    );
    assert.match(err.detail ?? '', /read:org/);
  });

  it('refuses a disabled login (case-insensitively) as GW_USER_DISABLED, uncached', async () => {
    const v = verifier({ disabledLogins: ['OctoCat'], allowedOrgs: ['acme'] });
    await rejectsWith(v.verify(TOKEN, NEVER), 'GW_USER_DISABLED', TOKEN);
    await rejectsWith(v.verify(TOKEN, NEVER), 'GW_USER_DISABLED', TOKEN);
    assert.equal(userCalls(), 2);
    assert.equal(gh.calls.length, 2, 'no org lookup for a disabled user');
  });

  it('refuses a credential that cannot be a GitHub token without calling GitHub or quoting it', async () => {
    for (const bad of ['gho_with space-SECRET', 'gho_ünïcode-SECRET', 'gho_new\nline-SECRET'])
      await rejectsWith(verifier().verify(bad, NEVER), 'GW_CREDENTIAL_INVALID', bad);
    assert.equal(gh.calls.length, 0);
  });

  it('one waiter leaving does not cancel a shared lookup; the last one leaving does', async () => {
    gh.accounts.set(TOKEN, { user: { id: 1, login: 'octocat' }, delayMs: 100 });
    const v = verifier();
    const leaver = new AbortController();
    const reason = new GatewayError('GW_CLIENT_CLOSED');
    const left = v.verify(TOKEN, leaver.signal);
    const stays = v.verify(TOKEN, NEVER);
    leaver.abort(reason);
    await assert.rejects(left, (err) => err === reason);
    assert.equal((await stays).uid, '1');
    assert.equal(userCalls(), 1);
    assert.equal(gh.abandoned, 0);

    const other = 'gho_lonely-SECRET';
    gh.accounts.set(other, { user: { id: 2, login: 'lonely' }, delayMs: 200 });
    const only = new AbortController();
    const p = v.verify(other, only.signal);
    await waitFor(() => gh.calls.some((c) => c.token === other));
    only.abort(reason);
    await assert.rejects(p, (err) => err === reason);
    await waitFor(() => gh.abandoned === 1);
    // The cancelled lookup is not joined by the next caller: it starts its own.
    gh.accounts.set(other, { user: { id: 2, login: 'lonely' } });
    assert.equal((await v.verify(other, NEVER)).uid, '2');
  });

  it('rejects at once with the reason of an already-aborted signal', async () => {
    const ac = new AbortController();
    const reason = new GatewayError('GW_DEADLINE_EXCEEDED');
    ac.abort(reason);
    await assert.rejects(verifier().verify(TOKEN, ac.signal), (err) => err === reason);
    assert.equal(gh.calls.length, 0);
  });
});

/** Polls until `cond` holds (the server sees a client's close a little after the client acts). */
async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
