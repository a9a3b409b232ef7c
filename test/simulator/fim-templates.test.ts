// A gateway that talks to vLLM (or TGI, or raw Ollama) builds the fill-in-the-middle prompt itself;
// the simulator recognises each template, continues the prefix, and counts the template in /stats.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { splitFimPrompt } from '../../src/simulator/prompt.js';
import { h1Request, PATTERN_PROMPT } from './helpers.js';

const SUFFIX = '\nconst y = 0;\n';
const TEMPLATES = {
  starcoder: `<fim_prefix>${PATTERN_PROMPT}<fim_suffix>${SUFFIX}<fim_middle>`,
  'qwen2.5-coder': `<|fim_prefix|>${PATTERN_PROMPT}<|fim_suffix|>${SUFFIX}<|fim_middle|>`,
  codellama: `<PRE> ${PATTERN_PROMPT} <SUF>${SUFFIX} <MID>`,
  'deepseek-coder': `<｜fim▁begin｜>${PATTERN_PROMPT}<｜fim▁hole｜>${SUFFIX}<｜fim▁end｜>`,
  codestral: `[SUFFIX]${SUFFIX}[PREFIX]${PATTERN_PROMPT}`,
} as const;

test('each FIM template splits back into its prefix and suffix', () => {
  for (const [template, prompt] of Object.entries(TEMPLATES)) {
    assert.deepEqual(splitFimPrompt(prompt), { template, prefix: PATTERN_PROMPT, suffix: SUFFIX }, template);
  }
  // Repo-level context before the template's first sentinel is not part of the prefix.
  assert.equal(splitFimPrompt(`<file_sep>a.ts\n${TEMPLATES.starcoder}`)?.prefix, PATTERN_PROMPT);
  assert.equal(splitFimPrompt(PATTERN_PROMPT), undefined);
  assert.equal(splitFimPrompt('<fim_prefix>no middle marker<fim_suffix>'), undefined);
});

describe('FIM templates over the wire', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ ttftMs: 0, tokenMs: 0, rejectSuffix: true });
  });
  after(() => sim.close());

  test('vLLM-style prompts continue the prefix and are counted by template in /stats', async () => {
    sim.resetStats();
    assert.equal(sim.stats().fim_templates, undefined, 'absent until a template is seen');
    for (const prompt of Object.values(TEMPLATES)) {
      const res = await h1Request(sim.url, {
        path: '/v1/completions',
        body: { model: 'qwen2.5-coder', prompt, max_tokens: 20, temperature: 0, stop: ['\n'] },
      });
      assert.equal(res.status, 200, res.body);
      const text = (JSON.parse(res.body) as { choices: { text: string }[] }).choices[0]?.text;
      assert.equal(text, '3 = 3;', 'the model continues the prefix, not the sentinels');
    }
    const stats = JSON.parse((await h1Request(sim.url, { method: 'GET', path: '/stats' })).body) as {
      fim_templates?: Record<string, number>;
    };
    assert.deepEqual(stats.fim_templates, {
      starcoder: 1,
      'qwen2.5-coder': 1,
      codellama: 1,
      'deepseek-coder': 1,
      codestral: 1,
    });
    sim.resetStats();
    assert.equal(sim.stats().fim_templates, undefined, 'a reset clears them');
  });

  test('TGI inputs and raw Ollama prompts are recognised too; a refused request is not counted', async () => {
    sim.resetStats();
    await h1Request(sim.url, {
      path: '/generate',
      body: { inputs: TEMPLATES['qwen2.5-coder'], parameters: { max_new_tokens: 2 } },
    });
    await h1Request(sim.url, {
      path: '/api/generate',
      body: {
        model: 'starcoder2',
        prompt: TEMPLATES.starcoder,
        raw: true,
        stream: false,
        options: { num_predict: 2 },
      },
    });
    const refused = await h1Request(sim.url, {
      path: '/v1/completions',
      body: { prompt: TEMPLATES['deepseek-coder'], suffix: SUFFIX },
    });
    assert.equal(refused.status, 400);
    assert.deepEqual(sim.stats().fim_templates, { 'qwen2.5-coder': 1, starcoder: 1 });
  });
});
