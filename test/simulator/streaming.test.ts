import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type http2 from 'node:http2';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import {
  connectH2,
  h1Open,
  h1Request,
  h2Open,
  h2Request,
  parseSse,
  PATTERN_PROMPT,
  textOf,
  type CompletionChunk,
} from './helpers.js';

const ENGINE_PATH = '/v1/engines/copilot-codex/completions';

/** Everything a Copilot client relies on in a streamed completion, checked event by event. */
function assertCopilotStream(body: string, model: string, tokens: number): CompletionChunk[] {
  assert.ok(
    body.endsWith('data: [DONE]\n\n'),
    `stream must end with [DONE]: ${JSON.stringify(body.slice(-80))}`,
  );
  const { chunks, done } = parseSse(body);
  assert.equal(done, true);
  assert.equal(chunks.length, tokens + 1, 'one event per token plus one finish event');
  const id = chunks[0]?.id ?? '';
  assert.match(id, /^cmpl-/);
  const now = Date.now() / 1000;
  for (const chunk of chunks) {
    assert.deepEqual(Object.keys(chunk), ['id', 'object', 'created', 'model', 'choices']);
    assert.equal(chunk.id, id);
    assert.equal(chunk.object, 'text_completion');
    assert.equal(chunk.model, model);
    assert.ok(Number.isInteger(chunk.created) && Math.abs(chunk.created - now) < 60);
    assert.equal(chunk.choices.length, 1);
    assert.deepEqual(Object.keys(chunk.choices[0] ?? {}), ['text', 'index', 'finish_reason', 'logprobs']);
  }
  const tokenEvents = chunks.slice(0, -1).map((c) => c.choices[0]);
  for (const c of tokenEvents) {
    assert.ok(
      c !== undefined && c.text.length >= 1 && c.text.length <= 6,
      `token size: ${JSON.stringify(c)}`,
    );
    assert.equal(c.finish_reason, null);
    assert.equal(c.logprobs, null);
  }
  assert.deepEqual(chunks.at(-1)?.choices[0], {
    text: '',
    index: 0,
    finish_reason: 'length',
    logprobs: null,
  });
  return chunks;
}

describe('simulator streaming', () => {
  let sim: Simulator;
  let session: http2.ClientHttp2Session;
  before(async () => {
    sim = await startSimulator({ ttftMs: 2, tokenMs: 1 });
    session = await connectH2(sim.url);
  });
  after(async () => {
    session.close();
    await sim.close();
  });

  test('h2c: the Copilot engine route streams one SSE event per token, a finish event and [DONE]', async () => {
    const res = await h2Request(session, {
      path: ENGINE_PATH,
      headers: { authorization: 'Bearer secret-token' },
      body: { prompt: PATTERN_PROMPT, max_tokens: 8, temperature: 0, extra: { language: 'typescript' } },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/event-stream');
    assertCopilotStream(res.body, 'copilot-codex', 8);
    assert.ok(!JSON.stringify(res.headers).includes('secret-token'), 'request headers must not be echoed');
  });

  test('HTTP/1.1: the same stream shape, chunked', async () => {
    const res = await h1Request(sim.url, {
      path: ENGINE_PATH,
      body: { prompt: PATTERN_PROMPT, max_tokens: 5 },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/event-stream');
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assertCopilotStream(res.body, 'copilot-codex', 5);
  });

  test('/v1/completions answers one JSON object unless stream is set', async () => {
    const res = await h2Request(session, {
      path: '/v1/completions',
      body: { model: 'starcoder2', prompt: PATTERN_PROMPT, max_tokens: 5, temperature: 0 },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    const body = JSON.parse(res.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['id', 'object', 'created', 'model', 'choices', 'usage']);
    assert.equal(body.object, 'text_completion');
    assert.equal(body.model, 'starcoder2');
    const choices = body.choices as CompletionChunk['choices'];
    assert.equal(choices.length, 1);
    assert.equal(choices[0]?.finish_reason, 'length');
    assert.ok((choices[0]?.text.length ?? 0) > 0);
    const usage = body.usage as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    assert.equal(usage.completion_tokens, 5);
    assert.ok(usage.prompt_tokens > 0);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);

    const streamed = await h2Request(session, {
      path: '/v1/completions',
      body: { model: 'starcoder2', prompt: PATTERN_PROMPT, max_tokens: 5, temperature: 0, stream: true },
    });
    assert.equal(textOf(parseSse(streamed.body).chunks), choices[0]?.text, 'same text streamed or not');
  });

  test('max_tokens defaults: 16 on /v1/completions, 500 on engines, both capped by maxTokens', async () => {
    const openai = await h2Request(session, { path: '/v1/completions', body: { prompt: 'x' } });
    assert.equal(
      (JSON.parse(openai.body) as { usage: { completion_tokens: number } }).usage.completion_tokens,
      16,
    );

    const capped = await startSimulator({ ttftMs: 0, tokenMs: 0, maxTokens: 20 });
    try {
      const copilot = await h1Request(capped.url, { path: ENGINE_PATH, body: { prompt: 'x' } });
      assert.equal(parseSse(copilot.body).chunks.length, 20 + 1);
      const asked = await h1Request(capped.url, {
        path: ENGINE_PATH,
        body: { prompt: 'x', max_tokens: 10_000 },
      });
      assert.equal(parseSse(asked.body).chunks.length, 20 + 1);
    } finally {
      await capped.close();
    }
  });

  test('n=2 streams each choice under its own index, each with its own finish event', async () => {
    const res = await h2Request(session, {
      path: ENGINE_PATH,
      body: { prompt: PATTERN_PROMPT, n: 2, max_tokens: 4, temperature: 0.8 },
    });
    const { chunks, done } = parseSse(res.body);
    assert.equal(done, true);
    for (const index of [0, 1]) {
      const mine = chunks.flatMap((c) => c.choices).filter((c) => c.index === index);
      assert.equal(mine.length, 5, `choice ${index}: 4 tokens + finish`);
      assert.deepEqual(
        mine.map((c) => c.finish_reason),
        [null, null, null, null, 'length'],
      );
    }
    const json = await h2Request(session, {
      path: '/v1/completions',
      body: { prompt: PATTERN_PROMPT, n: 2 },
    });
    const choices = (JSON.parse(json.body) as CompletionChunk).choices;
    assert.deepEqual(
      choices.map((c) => c.index),
      [0, 1],
    );
  });

  test('stop ["\\n"] gives a single line; x-sim-ignore-stop: 1 leaves stop to the caller', async () => {
    const spec = {
      path: ENGINE_PATH,
      body: { prompt: PATTERN_PROMPT, max_tokens: 40, temperature: 0, stop: ['\n'] },
    };
    const stopped = parseSse((await h2Request(session, spec)).body).chunks;
    const line = textOf(stopped);
    assert.ok(line.length > 0);
    assert.ok(!line.includes('\n'), `one line only: ${JSON.stringify(line)}`);
    assert.equal(stopped.at(-1)?.choices[0]?.finish_reason, 'stop');

    const ignored = parseSse(
      (await h2Request(session, { ...spec, headers: { 'x-sim-ignore-stop': '1' } })).body,
    );
    assert.ok(textOf(ignored.chunks).includes('\n'));
    assert.equal(ignored.chunks.at(-1)?.choices[0]?.finish_reason, 'length');
  });

  test('the text continues a pattern from the prompt, deterministically', async () => {
    const spec = {
      path: '/v1/completions',
      body: { prompt: PATTERN_PROMPT, max_tokens: 40, temperature: 0, stop: ['\n'] },
    };
    const first =
      (JSON.parse((await h2Request(session, spec)).body) as CompletionChunk).choices[0]?.text ?? '';
    assert.match(first, /= /);
    assert.match(first, /\d/);
    assert.equal(first, '3 = 3;', 'x1, x2 → x3');
    const again = (JSON.parse((await h2Request(session, spec)).body) as CompletionChunk).choices[0]?.text;
    assert.equal(again, first);
  });
});

describe('simulator streaming timing', () => {
  const tokenMs = 40;
  const tokens = 6;
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ ttftMs: 5, tokenMs });
  });
  after(() => sim.close());

  // Pins down: tokens are flushed one by one on h2, not buffered until the generation ends.
  test('h2c: the first token arrives while the generation is still running', async () => {
    const session = await connectH2(sim.url);
    try {
      const stream = h2Open(session, { path: ENGINE_PATH, body: { prompt: 'a', max_tokens: tokens } });
      const timing = await firstAndLast(
        (cb) => stream.on('data', cb),
        (cb) => stream.on('end', cb),
        () => sim,
      );
      assert.equal(timing.activeAtFirst, 1);
      assert.ok(timing.lastMs - timing.firstMs >= tokenMs, JSON.stringify(timing));
    } finally {
      session.close();
    }
  });

  // Pins down: HTTP/1.1 chunked responses are not held back by Nagle or by response buffering.
  test('HTTP/1.1: the first token arrives while the generation is still running', async () => {
    const timing = await new Promise<Timing>((resolve, reject) => {
      const req = h1Open(sim.url, { path: ENGINE_PATH, body: { prompt: 'a', max_tokens: tokens } }, (res) => {
        firstAndLast(
          (cb) => res.on('data', cb),
          (cb) => res.on('end', cb),
          () => sim,
        ).then(resolve, reject);
      });
      req.on('error', reject);
    });
    assert.equal(timing.activeAtFirst, 1);
    assert.ok(timing.lastMs - timing.firstMs >= tokenMs, JSON.stringify(timing));
  });
});

interface Timing {
  firstMs: number;
  lastMs: number;
  activeAtFirst: number;
}

function firstAndLast(
  onData: (cb: (chunk: unknown) => void) => void,
  onEnd: (cb: () => void) => void,
  sim: () => Simulator,
): Promise<Timing> {
  const start = performance.now();
  let first: { at: number; active: number } | undefined;
  return new Promise((resolve) => {
    onData(() => {
      first ??= { at: performance.now() - start, active: sim().stats().active };
    });
    onEnd(() => {
      resolve({
        firstMs: first?.at ?? NaN,
        lastMs: performance.now() - start,
        activeAtFirst: first?.active ?? -1,
      });
    });
  });
}
