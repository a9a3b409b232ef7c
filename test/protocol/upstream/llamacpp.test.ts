import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { llamacppAdapter as llama } from '../../../src/protocol/upstream/llamacpp.js';
import { assertDecodeThrows, decodeEverySplit, json, request, target, textOf } from './helpers.js';

// llama-server's /infill stream: partial results, then the final one with its statistics.
const partial = (content: string, n: number): string =>
  `data: {"index":0,"content":${JSON.stringify(content)},"tokens":[],"stop":false,"id_slot":0,"tokens_predicted":${n},"tokens_evaluated":12}\n\n`;
const final = (extra: Record<string, unknown>): string =>
  `data: ${JSON.stringify({
    index: 0,
    content: '',
    tokens: [],
    id_slot: 0,
    stop: true,
    model: 'qwen2.5-coder-1.5b-q8_0.gguf',
    tokens_predicted: 3,
    tokens_evaluated: 12,
    generation_settings: { n_predict: 3, temperature: 0 },
    prompt: '<|fim_prefix|>def f(',
    has_new_line: false,
    truncated: false,
    stopping_word: '',
    tokens_cached: 15,
    timings: { prompt_n: 12, prompt_ms: 20.5, predicted_n: 3, predicted_ms: 30.1 },
    ...extra,
  })}\n\n`;

describe('llamacpp adapter', () => {
  it('posts to /infill under the base path', () => {
    assert.equal(llama.path(target()), '/infill');
    assert.equal(llama.path(target({ basePath: '/llama' })), '/llama/infill');
  });

  it('sends prefix, suffix, n_predict, sampling and stops, and always asks for a stream with the prompt cached', () => {
    const req = request({
      prompt: 'def f(',
      suffix: '\n',
      max_tokens: 9,
      temperature: 0,
      top_p: 0.9,
      stop: ['\n\n'],
      stream: false,
    });
    assert.deepEqual(json(llama.body(req, target(), false)), {
      input_prefix: 'def f(',
      input_suffix: '\n',
      n_predict: 9,
      stream: true,
      cache_prompt: true,
      temperature: 0,
      top_p: 0.9,
      stop: ['\n\n'],
    });
  });

  it('without a suffix or limits: input_suffix "" (the server requires it), n_predict -1, no sampling fields', () => {
    assert.deepEqual(json(llama.body(request({ prompt: 'x' }), target(), false)), {
      input_prefix: 'x',
      input_suffix: '',
      n_predict: -1,
      stream: true,
      cache_prompt: true,
    });
  });

  it('decodes a stream cut anywhere: text, finish by stop_type, usage', () => {
    const make = (): ReturnType<typeof llama.decoder> => llama.decoder(request({ prompt: 'x' }));
    const stream = partial('ret', 1) + partial('urn «ä»', 2) + partial(' 🚀', 3);
    const byLimit = decodeEverySplit(make, stream + final({ stop_type: 'limit', stopped_limit: true }));
    assert.equal(textOf(byLimit), 'return «ä» 🚀');
    assert.deepEqual(byLimit.slice(-2), [
      { type: 'finish', index: 0, reason: 'length' },
      { type: 'usage', promptTokens: 12, completionTokens: 3 },
    ]);
    for (const why of [{ stop_type: 'eos' }, { stop_type: 'word', stopping_word: '\n\n' }])
      assert.deepEqual(decodeEverySplit(make, stream + final(why)).at(-2), {
        type: 'finish',
        index: 0,
        reason: 'stop',
      });
  });

  it('reads the older booleans when stop_type is missing', () => {
    const make = (): ReturnType<typeof llama.decoder> => llama.decoder(request({ prompt: 'x' }));
    const limit = decodeEverySplit(
      make,
      partial('a', 1) + final({ stopped_limit: true, stopped_eos: false }),
    );
    assert.deepEqual(limit.at(-2), { type: 'finish', index: 0, reason: 'length' });
    const eos = decodeEverySplit(make, partial('a', 1) + final({ stopped_limit: false, stopped_eos: true }));
    assert.deepEqual(eos.at(-2), { type: 'finish', index: 0, reason: 'stop' });
  });

  it('an in-band error is GW_UPSTREAM_ERROR; a non-JSON event GW_UPSTREAM_BAD_RESPONSE', () => {
    const make = (): ReturnType<typeof llama.decoder> => llama.decoder(request({ prompt: 'x' }));
    assertDecodeThrows(
      make,
      partial('a', 1) + 'data: {"error":{"code":500,"message":"slot failed","type":"server_error"}}\n\n',
      'GW_UPSTREAM_ERROR',
    );
    assertDecodeThrows(make, 'data: not json\n\n', 'GW_UPSTREAM_BAD_RESPONSE');
    assertDecodeThrows(make, 'data: "a string"\n\n', 'GW_UPSTREAM_BAD_RESPONSE');
  });
});
