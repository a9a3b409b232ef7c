import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { azureOpenaiAdapter as azure } from '../../../src/protocol/upstream/azure-openai.js';
import { assertDecodeThrows, decodeEverySplit, json, request, target, textOf } from './helpers.js';

const AZ = { deployment: 'gpt-35-instruct', apiVersion: '2024-02-01' };

// Azure's stream as its service sends it: the prompt's filter results first (no choices), then
// OpenAI chunks with content_filter_results in each choice, and [DONE].
const FILTER = {
  hate: { filtered: false, severity: 'safe' },
  violence: { filtered: false, severity: 'safe' },
};
const chunk = (text: string, finish: string | null): string =>
  `data: ${JSON.stringify({
    id: 'cmpl-9',
    object: 'text_completion',
    created: 1718000000,
    model: 'gpt-35-turbo-instruct',
    choices: [{ text, index: 0, finish_reason: finish, logprobs: null, content_filter_results: FILTER }],
  })}\n\n`;
const STREAM =
  `data: ${JSON.stringify({ choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: [{ prompt_index: 0, content_filter_results: FILTER }] })}\n\n` +
  chunk('    return a', null) +
  chunk(' + 3; // «é»→✓', null) +
  chunk('', 'length') +
  'data: [DONE]\n\n';

describe('azure-openai adapter', () => {
  it('posts to the deployment path with the api-version; the base path prefixes it', () => {
    assert.equal(
      azure.path(target({ azure: AZ })),
      '/openai/deployments/gpt-35-instruct/completions?api-version=2024-02-01',
    );
    assert.equal(
      azure.path(target({ basePath: '/eu', azure: { deployment: 'a b', apiVersion: '2024-10-21' } })),
      '/eu/openai/deployments/a%20b/completions?api-version=2024-10-21',
    );
  });

  it('without azure settings: the upstream model names the deployment, the default api-version', () => {
    assert.equal(
      azure.path(target({ upstreamModel: 'codex' })),
      '/openai/deployments/codex/completions?api-version=2024-10-21',
    );
  });

  it('sends OpenAI completions without model, asking for a stream; suffix, n and stop kept', () => {
    const req = request({
      prompt: 'def f(',
      suffix: '\n',
      n: 3,
      stop: ['\n\n'],
      max_tokens: 7,
      temperature: 0,
      stream: false,
    });
    const body = json(azure.body(req, target({ azure: AZ }), false));
    assert.deepEqual(body, {
      prompt: 'def f(',
      suffix: '\n',
      n: 3,
      stop: ['\n\n'],
      max_tokens: 7,
      temperature: 0,
      stream: true,
    });
  });

  it('in pass-through reuses the client bytes as they are', () => {
    const req = request({ prompt: 'x', stream: true });
    assert.equal(azure.body(req, target({ azure: AZ }), true), req.raw);
  });

  it('decodes Azure streams cut anywhere; the filter event is harmless', () => {
    const events = decodeEverySplit(() => azure.decoder(request({ prompt: 'x' })), STREAM);
    assert.equal(textOf(events), '    return a + 3; // «é»→✓');
    assert.deepEqual(events.at(-1), { type: 'finish', index: 0, reason: 'length' });
    assert.equal(events.length, 3);
  });

  it('an in-band error is GW_UPSTREAM_ERROR; a non-JSON event GW_UPSTREAM_BAD_RESPONSE', () => {
    const make = (): ReturnType<typeof azure.decoder> => azure.decoder(request({ prompt: 'x' }));
    assertDecodeThrows(
      make,
      chunk('a', null) + 'data: {"error":{"code":"500","message":"Internal"}}\n\n',
      'GW_UPSTREAM_ERROR',
    );
    assertDecodeThrows(make, 'data: <html>\n\n', 'GW_UPSTREAM_BAD_RESPONSE');
  });
});
