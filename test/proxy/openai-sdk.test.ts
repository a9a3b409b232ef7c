import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { eventually } from '../helpers/clients.js';
import { gatewayTo, recordRequests } from '../helpers/gateway.js';

// The `openai` npm SDK pointed at the gateway with baseURL: it posts to ${baseURL}/completions,
// reads the SSE stream, and cancels with an AbortController (over HTTP/1.1 fetch, by closing the
// connection). The cancel must reach the model server and leave the gateway serving.

const PROMPT =
  'def add1(a):\n    return a + 1\n\ndef add2(a):\n    return a + 2\n\ndef add3(a):\n    return a';

describe('openai npm SDK against the gateway', () => {
  let sim: Simulator;
  let gw: Gateway;
  let client: OpenAI;

  before(async () => {
    // 25 ms between tokens: a cancel after two chunks leaves most of the 200 tokens ungenerated.
    sim = await startSimulator({ ttftMs: 5, tokenMs: 25, slots: 8, maxTokens: 200 });
    gw = await gatewayTo(`h2c://127.0.0.1:${sim.port}`);
    client = new OpenAI({ baseURL: `${gw.urls[0]}/v1`, apiKey: 'auth-is-off', maxRetries: 0 });
  });
  after(async () => {
    await gw.close(100);
    await sim.close();
  });

  it('streams a completion and answers a non-streaming one', async () => {
    const stream = await client.completions.create({
      model: 'default',
      prompt: PROMPT,
      max_tokens: 6,
      stream: true,
    });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'text_completion');
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(text.length > 0);
    assert.equal(finish, 'length');
    const whole = await client.completions.create({ model: 'default', prompt: PROMPT, max_tokens: 6 });
    assert.equal(whole.choices.length, 1);
    assert.equal(whole.choices[0]?.text, text, 'same prompt, same greedy completion');
  });

  it('an AbortController cancels mid-stream: the simulator sees the cancel, the gateway keeps serving', async () => {
    sim.resetStats();
    const rec = recordRequests();
    try {
      const controller = new AbortController();
      const stream = await client.completions.create(
        { model: 'default', prompt: PROMPT, max_tokens: 200, stream: true },
        { signal: controller.signal },
      );
      let chunks = 0;
      try {
        for await (const _chunk of stream) {
          if (++chunks === 2) controller.abort();
        }
      } catch (err) {
        // Depending on where the abort lands, the SDK ends the loop or throws its abort error.
        assert.ok(
          err instanceof OpenAI.APIUserAbortError || (err as Error).name === 'AbortError',
          String(err),
        );
      }
      assert.equal(chunks, 2);
      await eventually(
        () => sim.stats().cancelled === 1 && sim.stats().active === 0,
        3000,
        'the cancel upstream',
      );
      const s = sim.stats();
      assert.equal(s.completed, 0, JSON.stringify(s));
      assert.ok(s.tokens_after_cancel <= 1, `tokens_after_cancel ${s.tokens_after_cancel}`);
      assert.ok(s.tokens_generated < 20, `generation stopped early: ${s.tokens_generated} tokens`);
      await eventually(() => rec.ended.length === 1, 3000, 'the request to end');
      assert.equal(rec.ended[0]?.status, 499);

      const after = await client.completions.create({ model: 'default', prompt: PROMPT, max_tokens: 3 });
      assert.ok((after.choices[0]?.text ?? '').length > 0, 'the gateway still answers');
    } finally {
      rec.stop();
    }
  });
});
