// Pins down rewrite rules (issue 7, item 1) over real sockets: what a rule writes is what the
// upstream receives, a request no rule fires for reaches the upstream byte for byte, a reject
// reaches the client as its status, GW_ code and message (and the upstream never sees it),
// routeTo lands on the other model's deployment, and a reload's rules apply to new requests.
import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';
import { copilotBody, h1request, h2connect, h2request, sseText } from '../helpers/clients.js';
import { fakeH2Upstream, sseChunk, type FakeUpstream } from '../helpers/fake-upstream.js';
import { recordRequests } from '../helpers/gateway.js';

/** An upstream that answers every completion with one streamed word. */
const answering = (word: string) =>
  fakeH2Upstream((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
    stream.end(`${sseChunk(word)}${sseChunk('', 'stop')}data: [DONE]\n\n`);
  });

const OLD_PLUGIN = { 'editor-version': 'vscode/1.95.0', 'editor-plugin-version': 'copilot/1.150.0' };
const ANCIENT_PLUGIN = { 'editor-version': 'vscode/1.95.0', 'editor-plugin-version': 'copilot/0.9.3' };
const NEW_PLUGIN = { 'editor-version': 'vscode/1.95.0', 'editor-plugin-version': 'copilot/1.250.0' };

const RULES = [
  {
    name: 'too-old',
    match: { plugin: 'copilot <1.0.0' },
    reject: { status: 426, message: 'Update your Copilot plugin to 1.200 or later.' },
  },
  {
    name: 'old-plugin-tokens',
    match: { plugin: 'copilot >=1.0.0 <1.200.0' },
    clamp: { max_tokens: { max: 32 } },
    addStop: ['\n'],
  },
  { name: 'python-small', match: { language: 'python' }, routeTo: 'small' },
  { name: 'openai-bias', match: { protocol: 'openai' }, logitBias: { '50256': -100 }, delete: ['n'] },
  {
    name: 'fim-short',
    match: { protocol: 'codestral' },
    set: { max_tokens: 7, seed: 42 },
    logitBias: { '13': -100 },
  },
];

describe('rewrite rules through the gateway', () => {
  let big: FakeUpstream;
  let small: FakeUpstream;
  let gw: Gateway;
  let session: http2.ClientHttp2Session;
  const config = (rules: unknown[]): GatewayConfigInput => ({
    listeners: [{ host: '127.0.0.1', port: 0 }],
    auth: { mode: 'none' },
    deployments: [
      { name: 'big-gpu', url: big.url },
      { name: 'small-gpu', url: small.url },
    ],
    models: [
      { name: 'default', aliases: ['copilot-codex'], deployments: ['big-gpu'] },
      { name: 'small', upstreamModel: 'small-1b', deployments: ['small-gpu'] },
    ],
    policy: { rules } as GatewayConfigInput['policy'],
  });

  before(async () => {
    big = await answering('big');
    small = await answering('small');
    gw = await startGateway(validateConfig(config(RULES)));
    session = await h2connect(gw.urls[0] as string);
  });
  after(async () => {
    session.close();
    await gw.close();
    await big.close();
    await small.close();
  });

  const complete = (headers: Record<string, string>, body = copilotBody({ max_tokens: 500 })) =>
    h2request(session, '/v1/engines/copilot-codex/completions', body, headers);

  it("an old plugin's max_tokens is clamped and a stop added: the upstream receives the rewritten body", async () => {
    const before = big.seen.length;
    const res = await complete(OLD_PLUGIN);
    assert.equal(res.status, 200, res.body);
    assert.equal(sseText(res.body), 'big');
    const sent = JSON.parse(big.seen[before]?.body ?? '{}') as Record<string, unknown>;
    assert.equal(sent.max_tokens, 32);
    assert.deepEqual(sent.stop, ['\n\n\n', '\n']);
    assert.equal(sent.temperature, 0, 'what no rule touched is as the client sent it');
  });

  it('clamp edges: a non-numeric max_tokens is refused before any rule; a null one is left alone', async () => {
    const before = big.seen.length;
    const bad = await complete(OLD_PLUGIN, copilotBody({ max_tokens: '500' }));
    assert.equal(bad.status, 400);
    assert.match(bad.body, /GW_INVALID_REQUEST/);
    assert.equal(big.seen.length, before, 'nothing was sent upstream');
    const missing = await complete(OLD_PLUGIN, copilotBody({ max_tokens: null }));
    assert.equal(missing.status, 200, missing.body);
    const sent = JSON.parse(big.seen[before]?.body ?? '{}') as Record<string, unknown>;
    assert.equal(
      sent.max_tokens,
      null,
      "a field the client did not give is the server's default: not clamped",
    );
    assert.deepEqual(sent.stop, ['\n\n\n', '\n'], 'the same rule’s other edit applied');
  });

  it('a request no rule fires for reaches the upstream as the client sent it', async () => {
    const before = big.seen.length;
    const res = await complete(NEW_PLUGIN);
    assert.equal(res.status, 200, res.body);
    const sent = JSON.parse(big.seen[before]?.body ?? '{}') as Record<string, unknown>;
    assert.equal(sent.max_tokens, 500);
    assert.deepEqual(sent.stop, ['\n\n\n']);
  });

  it('a too-old plugin gets 426 with GW_POLICY_REJECTED and the rule’s message; the upstream sees nothing', async () => {
    const rec = recordRequests();
    const seen = big.seen.length + small.seen.length;
    const res = await complete(ANCIENT_PLUGIN);
    rec.stop();
    assert.equal(res.status, 426);
    const err = (JSON.parse(res.body) as { error: { code: string; message: string; status: number } }).error;
    assert.equal(err.code, 'GW_POLICY_REJECTED');
    assert.equal(err.status, 426);
    assert.match(err.message, /Update your Copilot plugin to 1\.200 or later\.$/);
    assert.equal(
      res.headers['x-github-request-id'],
      res.headers['x-request-id'],
      'Copilot shows our message',
    );
    assert.equal(big.seen.length + small.seen.length, seen);
    const ctx = rec.ended.find((c) => c.status === 426);
    assert.deepEqual(ctx?.rules, ['too-old'], 'the request records the rule that refused it');
    // HTTP/1.1 clients (older plugins are often on it) get the same answer.
    const h1 = await h1request(
      gw.urls[0] as string,
      '/v1/engines/copilot-codex/completions',
      copilotBody(),
      ANCIENT_PLUGIN,
    );
    assert.equal(h1.status, 426);
    assert.match(h1.body, /"code":"GW_POLICY_REJECTED".*Update your Copilot plugin to 1\.200 or later\./);
    assert.equal(big.seen.length + small.seen.length, seen);
  });

  it("routeTo sends the request to the other model's deployment, under that model's upstream name", async () => {
    const before = { big: big.seen.length, small: small.seen.length };
    const body = copilotBody({ extra: { language: 'python' } });
    const res = await complete(NEW_PLUGIN, body);
    assert.equal(res.status, 200, res.body);
    assert.equal(sseText(res.body), 'small');
    assert.equal(big.seen.length, before.big);
    assert.equal(small.seen.length, before.small + 1);
    const sent = JSON.parse(small.seen[before.small]?.body ?? '{}') as Record<string, unknown>;
    assert.equal(sent.model, 'small-1b');
  });

  it('an OpenAI client: logit_bias added and n deleted in what the upstream receives', async () => {
    const before = big.seen.length;
    const body = JSON.stringify({
      model: 'default',
      prompt: 'x = ',
      max_tokens: 8,
      n: 1,
      stream: true,
      logit_bias: { '11': 3 },
    });
    const res = await h2request(session, '/v1/completions', body);
    assert.equal(res.status, 200, res.body);
    const sent = JSON.parse(big.seen[before]?.body ?? '{}') as Record<string, unknown>;
    assert.deepEqual(sent.logit_bias, { '11': 3, '50256': -100 });
    assert.equal(sent.n, undefined);
  });

  it('a Codestral client: the edits reach an OpenAI upstream, whose body is built from the rewritten fields', async () => {
    const before = big.seen.length;
    const body = JSON.stringify({
      model: 'default',
      prompt: 'def f(',
      suffix: ')',
      max_tokens: 64,
      stream: true,
    });
    const res = await h2request(session, '/v1/fim/completions', body);
    assert.equal(res.status, 200, res.body);
    const sent = JSON.parse(big.seen[before]?.body ?? '{}') as Record<string, unknown>;
    assert.equal(sent.max_tokens, 7);
    assert.equal(sent.seed, 42);
    assert.deepEqual(sent.logit_bias, { '13': -100 }, "not in Mistral's body, but in the normalized request");
  });

  it('a reload: new rules apply to new requests', async () => {
    const r = await gw.reload(
      validateConfig(
        config([
          { name: 'everyone-16', set: { max_tokens: 16 } },
          {
            name: 'no-python',
            match: { language: 'python' },
            reject: { status: 403, message: 'No Python here.' },
          },
        ]),
      ),
    );
    assert.ok(r.applied.includes('policy'), `applied: ${r.applied.join(', ')}`);
    const before = big.seen.length;
    const res = await complete(ANCIENT_PLUGIN);
    assert.equal(res.status, 200, 'the old reject rule is gone');
    assert.equal((JSON.parse(big.seen[before]?.body ?? '{}') as { max_tokens?: number }).max_tokens, 16);
    const py = await complete(NEW_PLUGIN, copilotBody({ extra: { language: 'python' } }));
    assert.equal(py.status, 403);
    assert.match(py.body, /No Python here\./);
    // And back to no rules at all: requests pass through.
    await gw.reload(validateConfig(config([])));
    const n = big.seen.length;
    assert.equal((await complete(ANCIENT_PLUGIN)).status, 200);
    assert.equal((JSON.parse(big.seen[n]?.body ?? '{}') as { max_tokens?: number }).max_tokens, 500);
  });
});
