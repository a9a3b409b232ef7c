import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ollamaAdapter as ollama } from '../../../src/protocol/upstream/ollama.js';
import { assertDecodeThrows, decodeEverySplit, json, request, target, textOf } from './helpers.js';

// Ollama's /api/generate stream: NDJSON lines, the last with done, done_reason and the counts.
const line = (response: string): string =>
  `{"model":"qwen2.5-coder:1.5b","created_at":"2025-01-01T00:00:00.1Z","response":${JSON.stringify(response)},"done":false}\n`;
const last = (reason: string, extra: Record<string, unknown> = {}): string =>
  `${JSON.stringify({
    model: 'qwen2.5-coder:1.5b',
    created_at: '2025-01-01T00:00:00.2Z',
    response: '',
    done: true,
    done_reason: reason,
    context: [1, 2, 3],
    total_duration: 123456789,
    load_duration: 1000,
    prompt_eval_count: 14,
    prompt_eval_duration: 2000,
    eval_count: 3,
    eval_duration: 3000,
    ...extra,
  })}\n`;

describe('ollama adapter', () => {
  it('posts to /api/generate under the base path', () => {
    assert.equal(ollama.path(target()), '/api/generate');
    assert.equal(ollama.path(target({ basePath: '/ollama' })), '/ollama/api/generate');
  });

  it('sends the upstream model, prompt, suffix, raw false, a stream and the options', () => {
    const req = request({
      prompt: 'def f(',
      suffix: '\n',
      max_tokens: 9,
      temperature: 0,
      top_p: 0.5,
      stop: ['\n\n', 'def '],
      stream: false,
    });
    assert.deepEqual(json(ollama.body(req, target({ upstreamModel: 'qwen2.5-coder:1.5b' }), false)), {
      model: 'qwen2.5-coder:1.5b',
      prompt: 'def f(',
      suffix: '\n',
      raw: false,
      stream: true,
      options: { num_predict: 9, temperature: 0, top_p: 0.5, stop: ['\n\n', 'def '] },
    });
  });

  it('without a suffix or limits: no suffix field, num_predict -1', () => {
    assert.deepEqual(json(ollama.body(request({ prompt: 'x' }), target(), false)), {
      model: 'up-model',
      prompt: 'x',
      raw: false,
      stream: true,
      options: { num_predict: -1 },
    });
  });

  it('decodes a stream cut anywhere (CRLF and blank lines tolerated): text, finish, usage', () => {
    const make = (): ReturnType<typeof ollama.decoder> => ollama.decoder(request({ prompt: 'x' }));
    const body = line('ret') + line('urn ✓') + '\r\n' + line(' 🚀');
    const byLength = decodeEverySplit(make, body + last('length'));
    assert.equal(textOf(byLength), 'return ✓ 🚀');
    assert.deepEqual(byLength.slice(-2), [
      { type: 'finish', index: 0, reason: 'length' },
      { type: 'usage', promptTokens: 14, completionTokens: 3 },
    ]);
    assert.deepEqual(decodeEverySplit(make, body + last('stop')).at(-2), {
      type: 'finish',
      index: 0,
      reason: 'stop',
    });
    // A final line without a newline, and without prompt_eval_count (the prompt was cached).
    const cached = last('stop', { prompt_eval_count: undefined }).trimEnd();
    assert.deepEqual(decodeEverySplit(make, body + cached).at(-1), {
      type: 'usage',
      promptTokens: 0,
      completionTokens: 3,
    });
  });

  it('an error line is GW_UPSTREAM_ERROR; a line that is not JSON GW_UPSTREAM_BAD_RESPONSE', () => {
    const make = (): ReturnType<typeof ollama.decoder> => ollama.decoder(request({ prompt: 'x' }));
    assertDecodeThrows(
      make,
      line('a') + '{"error":"model runner has unexpectedly stopped"}\n',
      'GW_UPSTREAM_ERROR',
    );
    assertDecodeThrows(make, line('a') + 'data: {"x":1}\n', 'GW_UPSTREAM_BAD_RESPONSE');
  });
});
