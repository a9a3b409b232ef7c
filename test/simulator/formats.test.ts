// Every upstream wire format the simulator speaks, over real sockets (h2c and HTTP/1.1), read the
// way that server's clients read it: SSE events or NDJSON lines, final events, error bodies.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import {
  connectH2,
  h1Open,
  h1Request,
  h2Open,
  h2ReadUntil,
  h2Request,
  sleep,
  waitFor,
  PATTERN_PROMPT,
  type Reply,
} from './helpers.js';
import { field, ndjsonLines, sseEvents } from './wire.js';

type Proto = 'h2' | 'h1';

interface BodyOptions {
  maxTokens: number;
  stream: boolean;
  stop?: string[];
  n?: number;
}

/** Choice texts and finish reasons, as that server's client would assemble them. */
interface Answer {
  texts: string[];
  finishes: string[];
}

interface FormatCase {
  name: string;
  /** Simulator options for this format (vLLM strictness). */
  sim?: Partial<SimulatorOptions>;
  streamPath: string;
  jsonPath: string;
  headers?: Record<string, string>;
  /** 'sse' is `data: {…}`; 'sse-tight' is axum's `data:{…}` (TGI). */
  framing: 'sse' | 'sse-tight' | 'ndjson';
  /** The stream ends with `data: [DONE]`. */
  done: boolean;
  body(o: BodyOptions): Record<string, unknown>;
  readStream(objects: readonly unknown[]): Answer;
  readJson(body: unknown): Answer;
  reasons: { length: string; stop: string };
  /** What `n: 2` gets: two choices, the field ignored (one choice), or a 422 (Mistral forbids extras). */
  n: 'choices' | 'ignored' | 'refused';
  /** The stop sequence stays at the end of the text (TGI). */
  keepsStop?: boolean;
  /** Field names of each streamed object, exactly (first, middle, last). */
  streamShape(objects: readonly unknown[]): void;
  jsonShape(body: unknown): void;
  invalid: { body: unknown; status: number; check(body: unknown): void };
  isStreamError(obj: unknown): boolean;
  /** vLLM still ends a failed stream with [DONE]. */
  doneAfterError?: boolean;
  /** The 401 body under --api-key ('' = bare status), and how the key is presented. */
  unauthorized: { body: unknown; keyHeaders(key: string): Record<string, string> };
}

const keys = (v: unknown): string[] => Object.keys(v as object);
const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

/** OpenAI text_completion objects: per-choice text, finish_reason on each choice's last object. */
function openaiAnswer(objects: readonly unknown[]): Answer {
  const texts: string[] = [];
  const finishes: string[] = [];
  for (const o of objects) {
    for (const c of (field(o, 'choices') as {
      text: string;
      index: number;
      finish_reason: string | null;
    }[]) ?? []) {
      texts[c.index] = (texts[c.index] ?? '') + c.text;
      if (c.finish_reason !== null) finishes[c.index] = c.finish_reason;
    }
  }
  return { texts, finishes };
}

const OPENAI_CHUNK_KEYS = ['id', 'object', 'created', 'model', 'choices'];
const OPENAI_CHOICE_KEYS = ['text', 'index', 'finish_reason', 'logprobs'];

function openaiCase(name: string, extra: Partial<FormatCase> = {}): FormatCase {
  return {
    name,
    streamPath: '/v1/completions',
    jsonPath: '/v1/completions',
    framing: 'sse',
    done: true,
    body: (o) => ({
      model: 'starcoder2',
      prompt: PATTERN_PROMPT,
      max_tokens: o.maxTokens,
      temperature: 0,
      stream: o.stream,
      ...(o.stop === undefined ? {} : { stop: o.stop }),
      ...(o.n === undefined ? {} : { n: o.n }),
    }),
    readStream: openaiAnswer,
    readJson: (b) => openaiAnswer([b]),
    reasons: { length: 'length', stop: 'stop' },
    n: 'choices',
    streamShape(objects) {
      for (const o of objects) {
        assert.deepEqual(keys(o), OPENAI_CHUNK_KEYS);
        assert.equal(field(o, 'object'), 'text_completion');
        assert.deepEqual(keys(field(o, 'choices', 0)), OPENAI_CHOICE_KEYS);
      }
    },
    jsonShape(b) {
      assert.deepEqual(keys(b), [...OPENAI_CHUNK_KEYS, 'usage']);
      assert.deepEqual(keys(field(b, 'usage')), ['prompt_tokens', 'completion_tokens', 'total_tokens']);
    },
    invalid: {
      body: { prompt: 'x', max_tokens: 'many' },
      status: 400,
      check(b) {
        assert.deepEqual(keys(field(b, 'error')), ['message', 'type', 'param', 'code']);
        assert.equal(field(b, 'error', 'type'), 'invalid_request_error');
        assert.equal(field(b, 'error', 'param'), 'max_tokens');
      },
    },
    isStreamError: (o) =>
      typeof field(o, 'error', 'message') === 'string' && field(o, 'choices') === undefined,
    unauthorized: {
      body: {
        error: {
          message: 'Incorrect API key provided.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      },
      keyHeaders: bearer,
    },
    ...extra,
  };
}

/** llama.cpp native objects: `content` pieces, then one object with stop: true. */
function llamaAnswer(objects: readonly unknown[]): Answer {
  const last = objects.at(-1);
  return {
    texts: [objects.map((o) => field(o, 'content') as string).join('')],
    finishes: field(last, 'stop') === true ? [field(last, 'stop_type') as string] : [],
  };
}

const LLAMA_PARTIAL_KEYS = [
  'index',
  'content',
  'tokens',
  'stop',
  'id_slot',
  'tokens_predicted',
  'tokens_evaluated',
];
const LLAMA_FINAL_KEYS = [
  'index',
  'content',
  'tokens',
  'id_slot',
  'stop',
  'model',
  'tokens_predicted',
  'tokens_evaluated',
  'generation_settings',
  'prompt',
  'has_new_line',
  'truncated',
  'stop_type',
  'stopped_eos',
  'stopped_word',
  'stopped_limit',
  'stopping_word',
  'tokens_cached',
  'timings',
];

function llamaCase(
  name: string,
  path: string,
  body: (o: BodyOptions) => Record<string, unknown>,
  invalid: FormatCase['invalid'],
): FormatCase {
  return {
    name,
    streamPath: path,
    jsonPath: path,
    framing: 'sse',
    done: false,
    body: (o) => ({
      ...body(o),
      n_predict: o.maxTokens,
      temperature: 0,
      stream: o.stream,
      ...(o.stop === undefined ? {} : { stop: o.stop }),
      ...(o.n === undefined ? {} : { n: o.n }),
    }),
    readStream: llamaAnswer,
    readJson: (b) => llamaAnswer([b]),
    reasons: { length: 'limit', stop: 'word' },
    n: 'ignored',
    streamShape(objects) {
      for (const o of objects.slice(0, -1)) {
        assert.deepEqual(keys(o), LLAMA_PARTIAL_KEYS);
        assert.equal(field(o, 'stop'), false);
      }
      const last = objects.at(-1);
      assert.deepEqual(keys(last), LLAMA_FINAL_KEYS);
      assert.equal(field(last, 'content'), '', 'the final event of a stream repeats no text');
      assert.equal(field(last, 'tokens_predicted'), objects.length - 1);
      assert.equal(typeof field(last, 'timings', 'predicted_per_second'), 'number');
    },
    jsonShape(b) {
      assert.deepEqual(keys(b), LLAMA_FINAL_KEYS);
      assert.equal(field(b, 'stop'), true);
    },
    invalid,
    isStreamError: (o) =>
      typeof field(o, 'error', 'message') === 'string' && field(o, 'error', 'type') === 'server_error',
    unauthorized: {
      body: { error: { code: 401, message: 'Invalid API Key', type: 'authentication_error' } },
      keyHeaders: bearer,
    },
  };
}

const ollamaAnswer = (objects: readonly unknown[]): Answer => {
  const last = objects.at(-1);
  return {
    texts: [objects.map((o) => field(o, 'response') as string).join('')],
    finishes: field(last, 'done') === true ? [field(last, 'done_reason') as string] : [],
  };
};
const OLLAMA_FINAL_KEYS = [
  'model',
  'created_at',
  'response',
  'done',
  'done_reason',
  'total_duration',
  'load_duration',
  'prompt_eval_count',
  'prompt_eval_duration',
  'eval_count',
  'eval_duration',
];

const tgiAnswer = (objects: readonly unknown[]): Answer => {
  const last = objects.at(-1);
  const text = objects.map((o) => field(o, 'token', 'text') as string).join('');
  if (field(last, 'details') === null) return { texts: [text], finishes: [] };
  assert.equal(field(last, 'generated_text'), text, 'generated_text is the whole streamed text');
  return { texts: [text], finishes: [field(last, 'details', 'finish_reason') as string] };
};

const codestralAnswer = (objects: readonly unknown[]): Answer => {
  let text = '';
  let finish: string | undefined;
  for (const o of objects) {
    text += (field(o, 'choices', 0, 'delta', 'content') as string | undefined) ?? '';
    finish = (field(o, 'choices', 0, 'finish_reason') as string | null | undefined) ?? finish;
  }
  return { texts: [text], finishes: finish === undefined ? [] : [finish] };
};

const FORMATS: FormatCase[] = [
  openaiCase('OpenAI /v1/completions'),
  openaiCase('Copilot /v1/engines/{engine}/completions', {
    streamPath: '/v1/engines/copilot-codex/completions',
    jsonPath: '/v1/engines/copilot-codex/completions',
  }),
  openaiCase('vLLM /v1/completions (rejectSuffix)', {
    sim: { rejectSuffix: true },
    invalid: {
      body: { prompt: 'def f(', suffix: '' },
      status: 400,
      check(b) {
        // Pins down: vLLM refuses `suffix` whenever it is present, in its own error object.
        assert.deepEqual(b, {
          object: 'error',
          message: 'suffix is not currently supported',
          type: 'BadRequestError',
          param: null,
          code: 400,
        });
      },
    },
    isStreamError: (o) => field(o, 'error', 'object') === 'error',
    doneAfterError: true,
    unauthorized: { body: { error: 'Unauthorized' }, keyHeaders: bearer },
  }),
  openaiCase('Azure OpenAI /openai/deployments/{deployment}/completions', {
    streamPath: '/openai/deployments/gpt-35-instruct/completions?api-version=2024-02-01',
    jsonPath: '/openai/deployments/gpt-35-instruct/completions?api-version=2024-10-01-preview',
    streamShape(objects) {
      // Azure's first event carries the prompt's filter results and no choices.
      assert.deepEqual(field(objects[0], 'choices'), []);
      assert.equal(field(objects[0], 'prompt_filter_results', 0, 'prompt_index'), 0);
      for (const o of objects.slice(1)) assert.deepEqual(keys(o), OPENAI_CHUNK_KEYS);
    },
    jsonShape(b) {
      assert.deepEqual(keys(b), [...OPENAI_CHUNK_KEYS, 'usage', 'prompt_filter_results']);
    },
    unauthorized: {
      body: {
        error: {
          code: '401',
          message:
            'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
        },
      },
      keyHeaders: (key) => ({ 'api-key': key }),
    },
  }),
  llamaCase(
    'llama.cpp /infill',
    '/infill',
    () => ({
      input_prefix: PATTERN_PROMPT,
      input_suffix: '\n}\n',
      input_extra: [{ filename: 'a.ts', text: 'x' }],
    }),
    {
      body: { input_prefix: 'x' },
      status: 400,
      check(b) {
        assert.deepEqual(b, {
          error: { code: 400, message: '"input_suffix" is required', type: 'invalid_request_error' },
        });
      },
    },
  ),
  llamaCase('llama.cpp /completion', '/completion', () => ({ prompt: PATTERN_PROMPT }), {
    body: { n_predict: 4 },
    status: 400,
    check(b) {
      assert.equal(field(b, 'error', 'code'), 400);
      assert.equal(field(b, 'error', 'type'), 'invalid_request_error');
    },
  }),
  {
    name: 'Ollama /api/generate',
    streamPath: '/api/generate',
    jsonPath: '/api/generate',
    framing: 'ndjson',
    done: false,
    body: (o) => ({
      model: 'qwen2.5-coder:1.5b-base',
      prompt: PATTERN_PROMPT,
      suffix: '\n}\n',
      // stream is left out when true: Ollama streams unless told not to.
      ...(o.stream ? {} : { stream: false }),
      options: {
        num_predict: o.maxTokens,
        temperature: 0,
        ...(o.stop === undefined ? {} : { stop: o.stop }),
      },
      ...(o.n === undefined ? {} : { n: o.n }),
    }),
    readStream: ollamaAnswer,
    readJson: (b) => ollamaAnswer([b]),
    reasons: { length: 'length', stop: 'stop' },
    n: 'ignored',
    streamShape(objects) {
      for (const o of objects.slice(0, -1)) {
        assert.deepEqual(keys(o), ['model', 'created_at', 'response', 'done']);
        assert.ok(!Number.isNaN(Date.parse(field(o, 'created_at') as string)), 'created_at is a timestamp');
      }
      assert.deepEqual(keys(objects.at(-1)), OLLAMA_FINAL_KEYS);
      assert.equal(field(objects.at(-1), 'response'), '');
      assert.equal(field(objects.at(-1), 'eval_count'), objects.length - 1);
    },
    jsonShape(b) {
      assert.deepEqual(keys(b), OLLAMA_FINAL_KEYS);
      assert.equal(field(b, 'done'), true);
    },
    invalid: {
      body: { prompt: 'x' },
      status: 400,
      check: (b) => assert.deepEqual(b, { error: 'model is required' }),
    },
    isStreamError: (o) => keys(o).join() === 'error',
    unauthorized: { body: { error: 'unauthorized' }, keyHeaders: bearer },
  },
  {
    name: 'TGI /generate_stream and /generate',
    streamPath: '/generate_stream',
    jsonPath: '/generate',
    framing: 'sse-tight',
    done: false,
    body: (o) => ({
      inputs: PATTERN_PROMPT,
      parameters: {
        max_new_tokens: o.maxTokens,
        details: true,
        return_full_text: false,
        ...(o.stop === undefined ? {} : { stop: o.stop }),
      },
      ...(o.n === undefined ? {} : { n: o.n }),
    }),
    readStream: tgiAnswer,
    readJson: (b) => ({
      texts: [field(b, 'generated_text') as string],
      finishes: [field(b, 'details', 'finish_reason') as string],
    }),
    reasons: { length: 'length', stop: 'stop_sequence' },
    n: 'ignored',
    keepsStop: true,
    streamShape(objects) {
      objects.forEach((o, i) => {
        assert.deepEqual(keys(o), ['index', 'token', 'generated_text', 'details']);
        assert.equal(field(o, 'index'), i + 1);
        assert.deepEqual(keys(field(o, 'token')), ['id', 'text', 'logprob', 'special']);
      });
      for (const o of objects.slice(0, -1))
        assert.deepEqual([field(o, 'generated_text'), field(o, 'details')], [null, null]);
      assert.deepEqual(keys(field(objects.at(-1), 'details')), ['finish_reason', 'generated_tokens', 'seed']);
    },
    jsonShape(b) {
      assert.deepEqual(keys(b), ['generated_text', 'details']);
      assert.deepEqual(keys(field(b, 'details')), [
        'finish_reason',
        'generated_tokens',
        'seed',
        'prefill',
        'tokens',
      ]);
    },
    invalid: {
      body: { inputs: 'x', parameters: { max_new_tokens: 0 } },
      status: 422,
      check: (b) =>
        assert.deepEqual(b, {
          error: 'Input validation error: `max_new_tokens` must be strictly positive',
          error_type: 'validation',
        }),
    },
    isStreamError: (o) => field(o, 'error_type') === 'generation' && typeof field(o, 'error') === 'string',
    unauthorized: { body: '', keyHeaders: bearer },
  },
  {
    name: 'Codestral /v1/fim/completions',
    streamPath: '/v1/fim/completions',
    jsonPath: '/v1/fim/completions',
    framing: 'sse',
    done: true,
    body: (o) => ({
      model: 'codestral-latest',
      prompt: PATTERN_PROMPT,
      suffix: '\n}\n',
      max_tokens: o.maxTokens,
      temperature: 0,
      stream: o.stream,
      ...(o.stop === undefined ? {} : { stop: o.stop }),
      ...(o.n === undefined ? {} : { n: o.n }),
    }),
    readStream: codestralAnswer,
    readJson: (b) => ({
      texts: [field(b, 'choices', 0, 'message', 'content') as string],
      finishes: [field(b, 'choices', 0, 'finish_reason') as string],
    }),
    reasons: { length: 'length', stop: 'stop' },
    n: 'refused',
    streamShape(objects) {
      for (const o of objects.slice(0, -1)) {
        assert.deepEqual(keys(o), ['id', 'object', 'created', 'model', 'choices']);
        assert.equal(field(o, 'object'), 'chat.completion.chunk');
        assert.deepEqual(keys(field(o, 'choices', 0)), ['index', 'delta', 'finish_reason']);
      }
      assert.equal(field(objects[0], 'choices', 0, 'delta', 'role'), 'assistant');
      const last = objects.at(-1);
      assert.deepEqual(keys(last), ['id', 'object', 'created', 'model', 'choices', 'usage']);
      assert.equal(field(last, 'usage', 'completion_tokens'), objects.length);
    },
    jsonShape(b) {
      assert.deepEqual(keys(b), ['id', 'object', 'created', 'model', 'choices', 'usage']);
      assert.equal(field(b, 'object'), 'chat.completion');
      assert.equal(field(b, 'choices', 0, 'message', 'role'), 'assistant');
    },
    invalid: {
      body: { prompt: 'x' },
      status: 422,
      check(b) {
        assert.deepEqual(keys(b), ['object', 'message', 'type', 'param', 'code']);
        assert.equal(field(b, 'object'), 'error');
        assert.match(field(b, 'message') as string, /model/);
      },
    },
    isStreamError: (o) => typeof field(o, 'error', 'message') === 'string',
    unauthorized: { body: { detail: 'Unauthorized' }, keyHeaders: bearer },
  },
];

/** Splits a stream body by the format's framing, checking the framing byte for byte. */
function parseStream(c: FormatCase, body: string): { objects: unknown[]; done: boolean } {
  if (c.framing === 'ndjson') return { objects: ndjsonLines(body), done: false };
  const events = sseEvents(body);
  let done = false;
  const objects: unknown[] = [];
  for (const e of events) {
    assert.ok(
      e.line.startsWith(c.framing === 'sse' ? 'data: ' : 'data:{'),
      `${c.framing} framing: ${JSON.stringify(e.line.slice(0, 12))}`,
    );
    if (e.data === '[DONE]') {
      done = true;
      continue;
    }
    assert.ok(!done, 'nothing after [DONE]');
    objects.push(JSON.parse(e.data));
  }
  return { objects, done };
}

const TOKEN_MS = 10;

for (const c of FORMATS) {
  describe(`simulator format: ${c.name}`, () => {
    let sim: Simulator;
    let session: http2.ClientHttp2Session;
    before(async () => {
      sim = await startSimulator({ ttftMs: 1, tokenMs: 0, seed: 11, ...c.sim });
      session = await connectH2(sim.url);
    });
    after(async () => {
      session.close();
      await sim.close();
    });

    const send = (
      proto: Proto,
      path: string,
      body: unknown,
      headers: Record<string, string> = {},
    ): Promise<Reply> => {
      const spec = { path, body, headers: { ...c.headers, ...headers } };
      return proto === 'h2' ? h2Request(session, spec) : h1Request(sim.url, spec);
    };
    const stream = async (proto: Proto, o: Omit<BodyOptions, 'stream'>, headers?: Record<string, string>) => {
      const res = await send(proto, c.streamPath, c.body({ ...o, stream: true }), headers);
      assert.equal(res.status, 200, res.body);
      return { res, ...parseStream(c, res.body) };
    };
    const json = async (o: Omit<BodyOptions, 'stream'>): Promise<{ res: Reply; body: unknown }> => {
      const res = await send('h2', c.jsonPath, c.body({ ...o, stream: false }));
      return { res, body: JSON.parse(res.body) as unknown };
    };

    for (const proto of ['h2', 'h1'] as const) {
      test(`${proto}: streams with its own framing; max tokens ends it with "${c.reasons.length}"`, async () => {
        sim.resetStats();
        const { res, objects, done } = await stream(proto, { maxTokens: 6 });
        assert.equal(
          res.headers['content-type'],
          c.framing === 'ndjson' ? 'application/x-ndjson' : 'text/event-stream',
        );
        assert.equal(done, c.done, c.done ? 'ends with data: [DONE]' : 'no [DONE] in this format');
        c.streamShape(objects);
        const answer = c.readStream(objects);
        assert.equal(answer.texts.length, 1);
        assert.ok((answer.texts[0] ?? '').length > 0);
        assert.deepEqual(answer.finishes, [c.reasons.length]);
        const stats = sim.stats();
        assert.deepEqual([stats.tokens_generated, stats.completed, stats.errors], [6, 1, 0]);
      });
    }

    test('a non-streaming answer is one JSON object with the same text', async () => {
      const streamed = c.readStream((await stream('h2', { maxTokens: 8 })).objects);
      const { res, body } = await json({ maxTokens: 8 });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.headers['content-type'], 'application/json');
      c.jsonShape(body);
      assert.deepEqual(c.readJson(body), streamed);
    });

    test(`stop sequences end a choice with "${c.reasons.stop}"`, async () => {
      for (const proto of ['h2', 'h1'] as const) {
        const answer = c.readStream((await stream(proto, { maxTokens: 40, stop: ['\n'] })).objects);
        const text = answer.texts[0] ?? '';
        assert.deepEqual(answer.finishes, [c.reasons.stop]);
        if (c.keepsStop)
          assert.ok(text.endsWith('\n') && !text.slice(0, -1).includes('\n'), JSON.stringify(text));
        else assert.ok(text.length > 0 && !text.includes('\n'), JSON.stringify(text));
      }
      const { body } = await json({ maxTokens: 40, stop: ['\n'] });
      assert.deepEqual(c.readJson(body).finishes, [c.reasons.stop]);
    });

    if (c.n === 'choices') {
      test('n=2 streams two choices, each to its own finish; the JSON answer has both', async () => {
        const answer = c.readStream((await stream('h1', { maxTokens: 4, n: 2 })).objects);
        assert.equal(answer.texts.length, 2);
        assert.deepEqual(answer.finishes, [c.reasons.length, c.reasons.length]);
        assert.equal(c.readJson((await json({ maxTokens: 4, n: 2 })).body).texts.length, 2);
      });
    } else if (c.n === 'ignored') {
      test('n is not part of this format: n=2 still answers one choice', async () => {
        const answer = c.readStream((await stream('h2', { maxTokens: 4, n: 2 })).objects);
        assert.equal(answer.texts.length, 1);
      });
    } else {
      test('n is not part of this format and unknown fields are refused: n=2 is a 422', async () => {
        const res = await send('h2', c.streamPath, c.body({ maxTokens: 4, n: 2, stream: true }));
        assert.equal(res.status, 422);
      });
    }

    test(`an invalid request is a ${c.invalid.status} in the format's error shape`, async () => {
      sim.resetStats();
      for (const proto of ['h2', 'h1'] as const) {
        const res = await send(proto, c.streamPath, c.invalid.body);
        assert.equal(res.status, c.invalid.status, res.body);
        assert.equal(res.headers['content-type'], 'application/json');
        c.invalid.check(JSON.parse(res.body));
      }
      assert.deepEqual([sim.stats().errors, sim.stats().tokens_generated], [2, 0]);
    });

    test("x-sim-error-after: N tokens, then the format's in-band error, then the stream ends", async () => {
      sim.resetStats();
      for (const proto of ['h2', 'h1'] as const) {
        const { objects, done } = await stream(proto, { maxTokens: 50 }, { 'x-sim-error-after': '3' });
        assert.equal(done, c.doneAfterError === true);
        const last = objects.at(-1);
        assert.ok(c.isStreamError(last), `last event is an error: ${JSON.stringify(last)}`);
        assert.ok(!objects.slice(0, -1).some((o) => c.isStreamError(o)));
        const answer = c.readStream(objects.slice(0, -1));
        assert.deepEqual(answer.finishes.filter(Boolean), [], 'no choice finished');
      }
      const stats = sim.stats();
      assert.deepEqual([stats.errors, stats.completed, stats.tokens_generated], [2, 0, 6]);
    });

    test("--api-key: a missing or wrong key is a 401 in the format's shape; the right key passes", async () => {
      const keyed = await startSimulator({ ttftMs: 0, tokenMs: 0, apiKey: 'sim-key', ...c.sim });
      try {
        const body = c.body({ maxTokens: 2, stream: false });
        for (const headers of [{}, c.unauthorized.keyHeaders('wrong')]) {
          const res = await h1Request(keyed.url, { path: c.jsonPath, body, headers });
          assert.equal(res.status, 401);
          if (c.unauthorized.body === '') assert.equal(res.body, '');
          else assert.deepEqual(JSON.parse(res.body), c.unauthorized.body);
        }
        const ok = await h1Request(keyed.url, {
          path: c.jsonPath,
          body,
          headers: c.unauthorized.keyHeaders('sim-key'),
        });
        assert.equal(ok.status, 200, ok.body);
        assert.deepEqual([keyed.stats().errors, keyed.stats().completed], [2, 1]);
      } finally {
        await keyed.close();
      }
    });

    describe('cancellation', () => {
      let slow: Simulator;
      before(async () => {
        slow = await startSimulator({ ttftMs: 1, tokenMs: TOKEN_MS, slots: 1, ...c.sim });
      });
      after(() => slow.close());

      /** After a cancel: counted once, at most one wasted token, the slot free, nothing generated later. */
      async function assertStopped(): Promise<void> {
        await waitFor(() => slow.stats().cancelled === 1, 'cancelled to reach 1');
        const stats = slow.stats();
        assert.ok(stats.tokens_after_cancel <= 1, `tokens_after_cancel ${stats.tokens_after_cancel}`);
        assert.deepEqual([stats.active, stats.completed], [0, 0]);
        await sleep(TOKEN_MS * 4);
        assert.equal(slow.stats().tokens_generated, stats.tokens_generated, 'no timer keeps generating');
      }
      const longBody = (): unknown => c.body({ maxTokens: 200, stream: true });

      test('h2 RST_STREAM mid-stream stops the generation', async () => {
        slow.resetStats();
        const s = await connectH2(slow.url);
        try {
          const h2stream = h2Open(s, { path: c.streamPath, body: longBody(), headers: c.headers ?? {} });
          await h2ReadUntil(h2stream, (t) => t.length > 0);
          h2stream.close(http2.constants.NGHTTP2_CANCEL);
          await assertStopped();
        } finally {
          s.close();
        }
      });

      test('HTTP/1.1 connection close mid-stream stops the generation', async () => {
        slow.resetStats();
        await new Promise<void>((resolve, reject) => {
          const req = h1Open(
            slow.url,
            { path: c.streamPath, body: longBody(), headers: c.headers ?? {} },
            (res) => {
              res.once('data', () => {
                req.destroy();
                resolve();
              });
            },
          );
          req.on('error', (err) => {
            if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
          });
        });
        await assertStopped();
      });
    });
  });
}
