// Pins down request edits by policy (experiment arm params): the normalized fields, the parsed
// body and the client's bytes agree afterwards, so an upstream adapter that reuses the client's
// bytes (same wire format) sends the edited values, and one that builds its own body does too.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codestralProtocol } from '../../src/protocol/client/codestral.js';
import { openaiProtocol } from '../../src/protocol/client/openai.js';
import { tabbyProtocol } from '../../src/protocol/client/tabby.js';
import type { ClientProtocol } from '../../src/protocol/client/protocol.js';
import type { UpstreamTarget } from '../../src/protocol/upstream/adapter.js';
import { UPSTREAM_ADAPTERS } from '../../src/protocol/upstream/index.js';
import { modelFieldBytes } from '../../src/protocol/upstream/openai.js';
import { withParams } from '../../src/policy/request-edit.js';

const client = { editor: undefined, plugin: undefined, session: undefined };
const target = (upstreamModel: string): UpstreamTarget => ({
  basePath: '',
  upstreamModel,
  modelField: modelFieldBytes(upstreamModel),
  fimTemplate: undefined,
  azure: undefined,
});

function decode(protocol: ClientProtocol, body: Record<string, unknown>) {
  const raw = Buffer.from(JSON.stringify(body));
  return protocol.decode({
    body: JSON.parse(raw.toString()) as Record<string, unknown>,
    raw,
    engine: undefined,
    client,
  });
}

const upstreamBody = (buf: Buffer) => JSON.parse(buf.toString()) as Record<string, unknown>;

describe('withParams', () => {
  it('OpenAI body: fields, body and bytes agree; pass-through sends the edited bytes', () => {
    const req = decode(openaiProtocol, {
      model: 'm',
      prompt: 'def f(',
      max_tokens: 100,
      temperature: 0.8,
      stop: ['\n\n'],
      stream: true,
      user: 'kept',
    });
    const out = withParams(req, { maxTokens: 7, temperature: 0.1, topP: 0.5, stop: ['\n'] });
    assert.deepEqual([out.maxTokens, out.temperature, out.topP, out.stop], [7, 0.1, 0.5, ['\n']]);
    assert.ok(out.raw !== undefined, 'the edits are spliced into the client bytes');
    assert.deepEqual(upstreamBody(out.raw), out.body);
    assert.deepEqual(out.body, {
      model: 'm',
      prompt: 'def f(',
      max_tokens: 7,
      temperature: 0.1,
      top_p: 0.5,
      stop: ['\n'],
      stream: true,
      user: 'kept',
    });
    // The openai adapter reuses the client's bytes in pass-through: they must carry the edit.
    const sent = upstreamBody(UPSTREAM_ADAPTERS.openai.body(out, target('m'), true));
    assert.equal(sent.max_tokens, 7);
    assert.equal(sent.temperature, 0.1);
    assert.deepEqual(sent.stop, ['\n']);
    assert.equal(req.maxTokens, 100, 'the original request is not changed');
  });

  it('fields not set stay as the client sent them; an empty stop list removes the stop field', () => {
    const req = decode(openaiProtocol, { model: 'm', prompt: 'x', max_tokens: 3, stop: ['a'], stream: true });
    const out = withParams(req, { stop: [] });
    assert.equal(out.maxTokens, 3);
    assert.deepEqual(out.stop, []);
    assert.equal('stop' in out.body, false);
    assert.equal('stop' in upstreamBody(out.raw ?? Buffer.from('{}')), false);
    const sent = upstreamBody(UPSTREAM_ADAPTERS.openai.body(out, target('m'), true));
    assert.equal('stop' in sent, false);
  });

  it('Codestral body: Mistral shares the names; its adapter sends the edit whether it reuses the bytes or not', () => {
    const req = decode(codestralProtocol, {
      model: 'codestral',
      prompt: 'a',
      suffix: 'b',
      stream: true,
      max_tokens: 50,
    });
    const out = withParams(req, { maxTokens: 9 });
    assert.equal(upstreamBody(out.raw ?? Buffer.from('{}')).max_tokens, 9);
    assert.equal(
      upstreamBody(UPSTREAM_ADAPTERS.codestral.body(out, target('codestral'), true)).max_tokens,
      9,
    );
    assert.equal(upstreamBody(UPSTREAM_ADAPTERS.codestral.body(out, target('other'), false)).max_tokens, 9);
  });

  it('Tabby body: its bytes are never reused upstream, so only the normalized fields change', () => {
    const tabby = tabbyProtocol({ model: 'default', maxTokens: 64, contextChars: 0 });
    const req = decode(tabby, { language: 'python', segments: { prefix: 'def f(', suffix: '' } });
    const out = withParams(req, { maxTokens: 5, temperature: 0 });
    assert.equal(out.raw, req.raw);
    const sent = upstreamBody(UPSTREAM_ADAPTERS.openai.body(out, target('m'), false));
    assert.equal(sent.max_tokens, 5);
    assert.equal(sent.temperature, 0);
  });
});
