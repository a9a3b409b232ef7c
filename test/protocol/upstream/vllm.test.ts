import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIM_TEMPLATE_NAMES, compileFimTemplate } from '../../../src/protocol/fim-templates.js';
import { mergeStops } from '../../../src/protocol/upstream/fim-prompt.js';
import { vllmAdapter as vllm } from '../../../src/protocol/upstream/vllm.js';
import { assertDecodeThrows, decodeEverySplit, json, request, target, textOf } from './helpers.js';

const chunk = (text: string, index: number, finish: string | null): string =>
  `data: {"id":"cmpl-abc","object":"text_completion","created":1718000000,"model":"qwen","choices":[{"index":${index},"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":${finish === null ? 'null' : `"${finish}"`},"stop_reason":null}],"usage":null}\n\n`;

describe('vllm adapter', () => {
  it('posts to /v1/completions, or the base path when the URL has one', () => {
    assert.equal(vllm.path(target({ fimTemplate: 'starcoder' })), '/v1/completions');
    assert.equal(
      vllm.path(target({ basePath: '/vllm/v1', fimTemplate: 'starcoder' })),
      '/vllm/v1/completions',
    );
  });

  it('with a suffix: the FIM prompt from the template, no suffix field, the template stops after the own', () => {
    const req = request({
      prompt: 'def f(',
      suffix: '\n    return x\n',
      n: 2,
      stop: ['\n\n', '<|endoftext|>'],
      max_tokens: 9,
      temperature: 0,
      stream: false,
    });
    const body = json(vllm.body(req, target({ fimTemplate: 'qwen2.5-coder' }), false));
    assert.deepEqual(body, {
      model: 'up-model',
      prompt: '<|fim_prefix|>def f(<|fim_suffix|>\n    return x\n<|fim_middle|>',
      n: 2,
      stop: ['\n\n', '<|endoftext|>', '<|fim_pad|>', '<|file_sep|>', '<|repo_name|>'],
      max_tokens: 9,
      temperature: 0,
      stream: true,
    });
    assert.equal('suffix' in body, false);
  });

  it('builds every template in the table, and an empty suffix is still fill-in-the-middle', () => {
    for (const name of FIM_TEMPLATE_NAMES) {
      const t = compileFimTemplate(name);
      const body = json(
        vllm.body(request({ prompt: 'P', suffix: '' }), target({ fimTemplate: name }), false),
      );
      assert.equal(body.prompt, t.build('P', ''), name);
      assert.deepEqual(body.stop, [...t.stop], name);
      assert.equal('suffix' in body, false, name);
    }
    const cl = json(
      vllm.body(request({ prompt: 'a', suffix: 'b' }), target({ fimTemplate: 'codellama' }), false),
    );
    assert.equal(cl.prompt, '<PRE> a <SUF>b <MID>');
  });

  it('without a suffix: the prompt as is, the model set; the client bytes are reused when they already stream', () => {
    const t = target({ fimTemplate: 'starcoder' });
    const plain = request({ prompt: 'def f(', max_tokens: 5, stream: false });
    assert.deepEqual(json(vllm.body(plain, t, false)), {
      model: 'up-model',
      prompt: 'def f(',
      max_tokens: 5,
      stream: true,
    });
    const streaming = request({ prompt: 'def f(', stream: true, model: 'up-model' });
    assert.equal(vllm.body(streaming, t, true), streaming.raw);
  });

  it('in pass-through with a suffix the body is re-encoded (no suffix), the client stream setting kept', () => {
    const req = request({ prompt: 'a', suffix: 'b', stream: true, stream_options: { include_usage: true } });
    const body = json(vllm.body(req, target({ fimTemplate: 'starcoder' }), true));
    assert.equal('suffix' in body, false);
    assert.equal(body.prompt, '<fim_prefix>a<fim_suffix>b<fim_middle>');
    assert.deepEqual(body.stream_options, { include_usage: true });
  });

  it('stops are deduplicated and bounded (own stops first)', () => {
    const own = Array.from({ length: 16 }, (_, i) => `s${i}`);
    const body = json(
      vllm.body(
        request({ prompt: 'a', suffix: 'b', stop: own }),
        target({ fimTemplate: 'starcoder' }),
        false,
      ),
    );
    assert.deepEqual(body.stop, own);
    assert.deepEqual(mergeStops(['x', '', 'y', 'x'], ['y', 'z'], 3), ['x', 'y', 'z']);
  });

  it('decodes a two-choice vLLM stream cut anywhere', () => {
    const stream =
      chunk('ret', 0, null) +
      chunk('fn ', 1, null) +
      chunk('urn ✓ 🚀', 0, null) +
      chunk('', 1, 'stop') +
      chunk('', 0, 'length') +
      'data: {"id":"cmpl-abc","object":"text_completion","created":1,"model":"qwen","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}}\n\n' +
      'data: [DONE]\n\n';
    const events = decodeEverySplit(() => vllm.decoder(request({ prompt: 'x', n: 2 })), stream);
    assert.equal(textOf(events, 0), 'return ✓ 🚀');
    assert.equal(textOf(events, 1), 'fn ');
    assert.deepEqual(
      events.filter((e) => e.type !== 'text'),
      [
        { type: 'finish', index: 1, reason: 'stop' },
        { type: 'finish', index: 0, reason: 'length' },
        { type: 'usage', promptTokens: 5, completionTokens: 4 },
      ],
    );
  });

  it("vLLM's in-band error (then [DONE]) is GW_UPSTREAM_ERROR; garbage GW_UPSTREAM_BAD_RESPONSE", () => {
    const make = (): ReturnType<typeof vllm.decoder> => vllm.decoder(request({ prompt: 'x' }));
    assertDecodeThrows(
      make,
      chunk('a', 0, null) +
        'data: {"error":{"object":"error","message":"boom","type":"InternalServerError","param":null,"code":500}}\n\ndata: [DONE]\n\n',
      'GW_UPSTREAM_ERROR',
    );
    assertDecodeThrows(make, 'data: {"choices":[\n\n', 'GW_UPSTREAM_BAD_RESPONSE');
  });
});
