// Per-format details the table in formats.test.ts does not cover: probes, query strings, options.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { h1Request, PATTERN_PROMPT, waitFor } from './helpers.js';
import { ndjsonLines, sseEvents } from './wire.js';

describe('simulator format details', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ ttftMs: 0, tokenMs: 0 });
  });
  after(() => sim.close());

  test('Azure: no api-version is a 404 "Resource not found" in Azure\'s shape, before any token', async () => {
    sim.resetStats();
    for (const query of ['', '?api-version=', '?api-version=latest', '?x=1']) {
      const res = await h1Request(sim.url, {
        path: `/openai/deployments/gpt-35-instruct/completions${query}`,
        body: { prompt: 'x', max_tokens: 2 },
      });
      assert.equal(res.status, 404, query);
      assert.deepEqual(JSON.parse(res.body), { error: { code: '404', message: 'Resource not found' } });
    }
    const ok = await h1Request(sim.url, {
      path: '/openai/deployments/gpt-35-instruct/completions?foo=1&api-version=2024-06-01',
      body: { prompt: 'x', max_tokens: 2 },
    });
    assert.equal(ok.status, 200);
    assert.equal(
      (JSON.parse(ok.body) as { model: string }).model,
      'gpt-35-instruct',
      'the deployment names the model',
    );
    assert.equal(sim.stats().tokens_generated, 2);
  });

  test('Ollama: GET / and GET /api/tags answer health probes; a body without stream streams', async () => {
    const root = await h1Request(sim.url, { method: 'GET', path: '/' });
    assert.equal(root.status, 200);
    assert.equal(root.body, 'Ollama is running');
    const tags = await h1Request(sim.url, { method: 'GET', path: '/api/tags' });
    const models = (JSON.parse(tags.body) as { models: { name: string; details: { format: string } }[] })
      .models;
    assert.ok(models.length > 0 && models.every((m) => m.name.includes(':') && m.details.format === 'gguf'));

    const streamed = await h1Request(sim.url, {
      path: '/api/generate',
      body: { model: 'qwen2.5-coder:1.5b-base', prompt: PATTERN_PROMPT, options: { num_predict: 3 } },
    });
    assert.equal(streamed.headers['content-type'], 'application/x-ndjson');
    assert.equal(ndjsonLines(streamed.body).length, 3 + 1);
  });

  test("Ollama: a mistyped field is a 400 in Go's words", async () => {
    const res = await h1Request(sim.url, { path: '/api/generate', body: { model: 'm', stream: 'yes' } });
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), {
      error: 'json: cannot unmarshal string into Go struct field GenerateRequest.stream of type bool',
    });
  });

  test('TGI: details only when asked; return_full_text prepends the inputs; more than 4 stops is a 422', async () => {
    const plain = await h1Request(sim.url, {
      path: '/generate',
      body: { inputs: PATTERN_PROMPT, parameters: { max_new_tokens: 20, stop: [';'] } },
    });
    assert.deepEqual(JSON.parse(plain.body), { generated_text: '3 = 3;' });
    const full = await h1Request(sim.url, {
      path: '/generate_stream',
      body: {
        inputs: PATTERN_PROMPT,
        parameters: { max_new_tokens: 20, stop: [';'], return_full_text: true },
      },
    });
    const last = JSON.parse(sseEvents(full.body).at(-1)?.data ?? '') as { generated_text: string };
    assert.equal(last.generated_text, `${PATTERN_PROMPT}3 = 3;`);
    const stops = await h1Request(sim.url, {
      path: '/generate',
      body: { inputs: 'x', parameters: { stop: ['a', 'b', 'c', 'd', 'e'] } },
    });
    assert.equal(stops.status, 422);
    assert.match(stops.body, /supports up to 4 stop sequences. Given: 5/);
  });

  test('TGI: a full queue is a 429 overloaded with retry-after', async () => {
    const busy = await startSimulator({ ttftMs: 0, tokenMs: 50, slots: 1, queueLimit: 0 });
    try {
      const running = h1Request(busy.url, {
        path: '/generate',
        body: { inputs: 'x', parameters: { max_new_tokens: 3 } },
      });
      await waitFor(() => busy.stats().active === 1, 'the first request to hold the slot');
      const refused = await h1Request(busy.url, { path: '/generate', body: { inputs: 'x' } });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers['retry-after'], '1');
      assert.deepEqual(JSON.parse(refused.body), { error: 'Model is overloaded', error_type: 'overloaded' });
      assert.equal((await running).status, 200);
    } finally {
      await busy.close();
    }
  });

  test('llama.cpp /infill: the model continues input_prefix + prompt; input_extra must be well formed', async () => {
    const res = await h1Request(sim.url, {
      path: '/infill',
      body: {
        input_prefix: 'const x1 = 1;\nconst x2 = 2;\n',
        prompt: 'const x',
        input_suffix: '',
        n_predict: 20,
        stop: [';'],
      },
    });
    assert.equal((JSON.parse(res.body) as { content: string }).content, '3 = 3');
    const bad = await h1Request(sim.url, {
      path: '/infill',
      body: { input_prefix: '', input_suffix: '', input_extra: [{ filename: 'a.ts' }] },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /extra_context chunk must contain a \\"text\\" field/);
  });

  test('OpenAI without --reject-suffix keeps accepting suffix (only vLLM refuses it)', async () => {
    const res = await h1Request(sim.url, {
      path: '/v1/completions',
      body: { prompt: PATTERN_PROMPT, suffix: '\n}', max_tokens: 2 },
    });
    assert.equal(res.status, 200);
  });
});
