import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { codestralProtocol } from '../../src/protocol/client/codestral.js';
import { openaiProtocol } from '../../src/protocol/client/openai.js';
import type { ClientProtocol } from '../../src/protocol/client/protocol.js';
import type { CompletionRequest } from '../../src/protocol/model.js';
import { codestralAdapter } from '../../src/protocol/upstream/codestral.js';
import { modelFieldBytes } from '../../src/protocol/upstream/openai.js';
import type { UpstreamTarget } from '../../src/protocol/upstream/adapter.js';

const CLIENT = { editor: undefined, plugin: undefined, session: undefined };

function decodeWith(protocol: ClientProtocol, body: Record<string, unknown>): CompletionRequest {
  const raw = Buffer.from(JSON.stringify(body));
  return protocol.decode({
    body: JSON.parse(raw.toString()) as Record<string, unknown>,
    raw,
    engine: undefined,
    client: CLIENT,
  });
}

const decode = (body: Record<string, unknown>): CompletionRequest => decodeWith(codestralProtocol, body);

function target(upstreamModel: string, basePath = ''): UpstreamTarget {
  return {
    basePath,
    upstreamModel,
    modelField: modelFieldBytes(upstreamModel),
    fimTemplate: undefined,
    azure: undefined,
  };
}

function invalidNaming(field: string): (err: unknown) => boolean {
  return (err) =>
    err instanceof GatewayError && err.code === 'GW_INVALID_REQUEST' && err.message.includes(`"${field}"`);
}

describe('Codestral client protocol: decode', () => {
  it("reads Mistral's FIM body (Continue's mistral provider sends this) and ignores unknown fields", () => {
    const req = decode({
      model: 'codestral-latest',
      prompt: 'def f(',
      suffix: '\n',
      max_tokens: 64,
      temperature: 0.2,
      top_p: 0.9,
      frequency_penalty: 0,
      presence_penalty: 0,
      stop: ['\n\n'],
      stream: true,
      random_seed: 7,
      min_tokens: 1,
    });
    assert.deepEqual(
      [
        req.model,
        req.prompt,
        req.suffix,
        req.maxTokens,
        req.temperature,
        req.topP,
        req.stop,
        req.stream,
        req.n,
      ],
      ['codestral-latest', 'def f(', '\n', 64, 0.2, 0.9, ['\n\n'], true, 1],
    );
    assert.equal(decode({ model: 'm', prompt: '' }).stream, false, "Mistral's default is not to stream");
  });

  for (const [what, body, field] of [
    ['no model', { prompt: 'x' }, 'model'],
    ['an empty model', { model: '', prompt: 'x' }, 'model'],
    ['no prompt', { model: 'm' }, 'prompt'],
    ['an array prompt', { model: 'm', prompt: ['x'] }, 'prompt'],
    ['a temperature above Mistral’s 1.5', { model: 'm', prompt: 'x', temperature: 1.8 }, 'temperature'],
    ['a fractional max_tokens', { model: 'm', prompt: 'x', max_tokens: 1.5 }, 'max_tokens'],
    ['a negative min_tokens', { model: 'm', prompt: 'x', min_tokens: -1 }, 'min_tokens'],
    ['a string random_seed', { model: 'm', prompt: 'x', random_seed: '1' }, 'random_seed'],
    ['a numeric stop', { model: 'm', prompt: 'x', stop: 3 }, 'stop'],
  ] as const) {
    it(`refuses ${what} with GW_INVALID_REQUEST naming "${field}"`, () => {
      assert.throws(() => decode(body), invalidNaming(field));
    });
  }
});

describe('codestral upstream adapter: body and path', () => {
  it('posts to {base}/v1/fim/completions, or under the base path the deployment URL names', () => {
    assert.equal(codestralAdapter.path(target('m')), '/v1/fim/completions');
    assert.equal(codestralAdapter.path(target('m', '/mistral/v1')), '/mistral/v1/fim/completions');
    assert.equal(codestralAdapter.maxChoices, 1);
    assert.equal(codestralAdapter.responseFormat, 'mistral-fim');
  });

  it("a Codestral client's streaming body for this very model goes as its own bytes", () => {
    const req = decode({
      model: 'codestral-latest',
      prompt: 'def f(',
      suffix: '\n',
      max_tokens: 8,
      stream: true,
    });
    const out = codestralAdapter.body(req, target('codestral-latest'), true);
    assert.equal(out, req.raw, 'the same buffer: nothing re-serialised');
  });

  it('otherwise sends only the fields Mistral knows (it refuses others with 422), streaming', () => {
    // An OpenAI client with fields Mistral does not know, a seed under OpenAI's name, a hot temperature.
    const req = decodeWith(openaiProtocol, {
      model: 'fim',
      prompt: 'def f(',
      suffix: '\n',
      max_tokens: 8,
      temperature: 1.9,
      top_p: 0.5,
      n: 1,
      stop: '\n\n',
      logprobs: null,
      echo: false,
      seed: 11,
      user: 'u',
    });
    const body = JSON.parse(
      codestralAdapter.body(req, target('codestral-2501'), false).toString(),
    ) as unknown;
    assert.deepEqual(body, {
      model: 'codestral-2501',
      prompt: 'def f(',
      suffix: '\n',
      max_tokens: 8,
      temperature: 1.5,
      top_p: 0.5,
      stop: ['\n\n'],
      random_seed: 11,
      stream: true,
    });
  });

  it("keeps a Codestral client's min_tokens and random_seed, and renames the model", () => {
    const req = decode({
      model: 'codestral-latest',
      prompt: 'p',
      stream: false,
      min_tokens: 2,
      random_seed: 3,
    });
    const body = JSON.parse(
      codestralAdapter.body(req, target('codestral-2501'), false).toString(),
    ) as unknown;
    assert.deepEqual(body, {
      model: 'codestral-2501',
      prompt: 'p',
      min_tokens: 2,
      random_seed: 3,
      stream: true,
    });
  });
});
