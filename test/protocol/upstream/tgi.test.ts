import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tgiAdapter as tgi } from '../../../src/protocol/upstream/tgi.js';
import { assertDecodeThrows, decodeEverySplit, json, request, target, textOf } from './helpers.js';

// TGI's /generate_stream as axum writes it: `data:` without a space, one event per token, the
// last carrying generated_text and details.
const tok = (id: number, text: string, special = false): string =>
  `data:{"index":${id},"token":{"id":${id},"text":${JSON.stringify(text)},"logprob":-0.12,"special":${special}},"generated_text":null,"details":null}\n\n`;
const last = (id: number, text: string, special: boolean, all: string, reason: string): string =>
  `data:{"index":${id},"token":{"id":${id},"text":${JSON.stringify(text)},"logprob":-0.01,"special":${special}},"generated_text":${JSON.stringify(all)},"details":{"finish_reason":"${reason}","generated_tokens":${id},"seed":null}}\n\n`;

describe('tgi adapter', () => {
  it('posts to /generate_stream under the base path', () => {
    assert.equal(tgi.path(target({ fimTemplate: 'starcoder' })), '/generate_stream');
    assert.equal(tgi.path(target({ basePath: '/tgi', fimTemplate: 'starcoder' })), '/tgi/generate_stream');
  });

  it('with a suffix: inputs from the FIM template, its stops after the own; temperature 0 is do_sample false', () => {
    const req = request({
      prompt: 'def f(',
      suffix: '\n',
      max_tokens: 9,
      temperature: 0,
      top_p: 1,
      stop: ['\n\n'],
      stream: false,
    });
    assert.deepEqual(json(tgi.body(req, target({ fimTemplate: 'starcoder' }), false)), {
      inputs: '<fim_prefix>def f(<fim_suffix>\n<fim_middle>',
      parameters: {
        max_new_tokens: 9,
        do_sample: false,
        stop: ['\n\n', '<|endoftext|>', '<file_sep>'],
        return_full_text: false,
        details: true,
      },
    });
  });

  it('without a suffix: the prompt as is; a temperature samples; top_p only inside (0, 1); at most 4 stops', () => {
    const req = request({ prompt: 'x', temperature: 0.2, top_p: 0.95, stop: ['a', 'b', 'c', 'd', 'e'] });
    assert.deepEqual(json(tgi.body(req, target({ fimTemplate: 'qwen2.5-coder' }), false)), {
      inputs: 'x',
      parameters: {
        temperature: 0.2,
        do_sample: true,
        top_p: 0.95,
        stop: ['a', 'b', 'c', 'd'],
        return_full_text: false,
        details: true,
      },
    });
    // The template has four stops of its own: with two of the client's, four in all go to TGI.
    const fim = json(
      tgi.body(
        request({ prompt: 'p', suffix: 's', stop: ['x', 'y'] }),
        target({ fimTemplate: 'qwen2.5-coder' }),
        false,
      ),
    );
    assert.deepEqual((fim.parameters as { stop: string[] }).stop, ['x', 'y', '<|endoftext|>', '<|fim_pad|>']);
  });

  it('decodes a stream cut anywhere: token texts, special tokens left out, finish reasons', () => {
    const make = (): ReturnType<typeof tgi.decoder> => tgi.decoder(request({ prompt: 'x' }));
    const head = tok(1, 'ret') + tok(2, 'urn é') + tok(3, ' 🚀');
    const eos = decodeEverySplit(make, head + last(4, '</s>', true, 'return é 🚀', 'eos_token'));
    assert.equal(textOf(eos), 'return é 🚀');
    assert.deepEqual(eos.at(-1), { type: 'finish', index: 0, reason: 'stop' });
    const length = decodeEverySplit(make, head + last(4, ';', false, 'return é 🚀;', 'length'));
    assert.equal(textOf(length), 'return é 🚀;');
    assert.deepEqual(length.at(-1), { type: 'finish', index: 0, reason: 'length' });
    // TGI keeps the stop sequence in the text: the decoder passes it on, the gateway's filter cuts it.
    const stopped = decodeEverySplit(make, head + last(4, '\n\n', false, 'return é 🚀\n\n', 'stop_sequence'));
    assert.equal(textOf(stopped), 'return é 🚀\n\n');
    assert.deepEqual(stopped.at(-1), { type: 'finish', index: 0, reason: 'stop' });
  });

  it('an in-band error is GW_UPSTREAM_ERROR; a non-JSON event GW_UPSTREAM_BAD_RESPONSE', () => {
    const make = (): ReturnType<typeof tgi.decoder> => tgi.decoder(request({ prompt: 'x' }));
    assertDecodeThrows(
      make,
      tok(1, 'a') +
        'data:{"error":"Request failed during generation: CUDA OOM","error_type":"generation"}\n\n',
      'GW_UPSTREAM_ERROR',
    );
    assertDecodeThrows(make, 'data:{"token":\n\n', 'GW_UPSTREAM_BAD_RESPONSE');
  });
});
