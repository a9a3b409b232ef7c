import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.js';
import type { CompletionEvent, CompletionRequest } from '../../src/protocol/model.js';
import { FimChunkDecoder, FimChunkEncoder } from '../../src/protocol/mistral-fim.js';
import { sseEvents } from '../helpers/clients.js';

const META = { id: 'cmpl-1', created: 1_700_000_000, model: 'codestral-latest' };

function request(stream: boolean): CompletionRequest {
  return {
    prompt: 'def f(',
    suffix: undefined,
    maxTokens: undefined,
    temperature: undefined,
    topP: undefined,
    n: 1,
    stop: [],
    stream,
    language: undefined,
    logprobs: undefined,
    seed: undefined,
    logitBias: undefined,
    model: 'codestral-latest',
    filepath: undefined,
    extra: undefined,
    client: { editor: undefined, plugin: undefined, session: undefined },
    origin: 'mistral-fim',
    raw: Buffer.from('{}'),
    body: {},
  };
}

function encode(stream: boolean, events: readonly CompletionEvent[]): string {
  const enc = new FimChunkEncoder(request(stream), META);
  return events.map((e) => enc.event(e)).join('') + enc.end();
}

/** Feeds `bytes` to a fresh decoder in pieces cut at `cuts`, returning every event. */
function decode(bytes: Buffer, cuts: readonly number[] = []): CompletionEvent[] {
  const dec = new FimChunkDecoder();
  const out: CompletionEvent[] = [];
  const emit = (e: CompletionEvent): void => void out.push(e);
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    dec.push(bytes.subarray(at, cut), emit);
    at = cut;
  }
  dec.end(emit);
  return out;
}

/** Adjacent text events joined: how a stream is split into pieces is not part of its meaning. */
function merged(events: readonly CompletionEvent[]): CompletionEvent[] {
  const out: CompletionEvent[] = [];
  for (const e of events) {
    const last = out.at(-1);
    if (e.type === 'text' && last?.type === 'text' && last.index === e.index)
      out[out.length - 1] = { ...last, text: last.text + e.text };
    else out.push(e);
  }
  return out;
}

const EVENTS: CompletionEvent[] = [
  { type: 'text', index: 0, text: 'x):\n' },
  { type: 'text', index: 0, text: '    return "é→😀"' },
  { type: 'finish', index: 0, reason: 'length' },
  { type: 'usage', promptTokens: 7, completionTokens: 5 },
];

describe('Mistral FIM encoder (the Codestral client protocol writes it)', () => {
  it('streams chat.completion.chunk deltas, role on the first, finish and usage on the last, then [DONE]', () => {
    const events = sseEvents(encode(true, EVENTS));
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1) as {
      id: string;
      object: string;
      created: number;
      model: string;
      choices: { index: number; delta: { role?: string; content: string }; finish_reason: string | null }[];
      usage?: unknown;
    }[];
    assert.equal(chunks.length, 3);
    for (const c of chunks) {
      assert.deepEqual(
        [c.id, c.object, c.created, c.model],
        ['cmpl-1', 'chat.completion.chunk', META.created, META.model],
      );
      // Every chunk has choices[0].delta.content: Continue reads it without checking.
      assert.equal(c.choices.length, 1);
      assert.equal(typeof c.choices[0]?.delta.content, 'string');
    }
    assert.deepEqual(chunks[0]?.choices[0], {
      index: 0,
      delta: { role: 'assistant', content: 'x):\n' },
      finish_reason: null,
    });
    assert.deepEqual(chunks[1]?.choices[0]?.delta, { content: '    return "é→😀"' });
    assert.deepEqual(chunks[2]?.choices[0], { index: 0, delta: { content: '' }, finish_reason: 'length' });
    assert.deepEqual(chunks[2]?.usage, { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 });
  });

  it('without usage from the upstream the last chunk has none; an empty completion still names the role', () => {
    const events = sseEvents(encode(true, [{ type: 'finish', index: 0, reason: 'stop' }]));
    assert.deepEqual(events, [
      {
        id: 'cmpl-1',
        object: 'chat.completion.chunk',
        created: META.created,
        model: META.model,
        choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: 'stop' }],
      },
      '[DONE]',
    ]);
  });

  it('answers one chat.completion body when not streaming', () => {
    const body = JSON.parse(encode(false, EVENTS)) as unknown;
    assert.deepEqual(body, {
      id: 'cmpl-1',
      object: 'chat.completion',
      created: META.created,
      model: META.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'x):\n    return "é→😀"' },
          finish_reason: 'length',
        },
      ],
      usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 },
    });
    const enc = new FimChunkEncoder(request(false), META);
    assert.equal(enc.contentType, 'application/json');
    assert.equal(new FimChunkEncoder(request(true), META).contentType, 'text/event-stream');
  });
});

describe('Mistral FIM decoder (the codestral adapter reads it)', () => {
  // Mistral's own stream: role on the first delta, the last text with the finish reason and usage.
  const MISTRAL =
    'data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"codestral-latest","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n' +
    'data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"codestral-latest","choices":[{"index":0,"delta":{"content":"ret"},"finish_reason":null}]}\n\n' +
    'data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"codestral-latest","choices":[{"index":0,"delta":{"content":"urn é😀"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"total_tokens":6,"completion_tokens":3}}\n\n' +
    'data: [DONE]\n\n';
  const EXPECTED: CompletionEvent[] = [
    { type: 'text', index: 0, text: 'return é😀' },
    { type: 'finish', index: 0, reason: 'stop' },
    { type: 'usage', promptTokens: 3, completionTokens: 3 },
  ];

  it('reads text, finish and usage from a stream cut at every byte (UTF-8 characters split too)', () => {
    const bytes = Buffer.from(MISTRAL);
    assert.deepEqual(merged(decode(bytes)), EXPECTED);
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(merged(decode(bytes, [cut])), EXPECTED, `cut at byte ${cut}`);
    }
    // And one byte at a time, with \r\n line ends.
    const crlf = Buffer.from(MISTRAL.replaceAll('\n', '\r\n'));
    const everyByte = Array.from({ length: crlf.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(merged(decode(crlf, everyByte)), EXPECTED);
  });

  it('reads back exactly what the encoder wrote, cut at every byte', () => {
    const bytes = Buffer.from(encode(true, EVENTS));
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(merged(decode(bytes, [cut])), merged(EVENTS), `cut at byte ${cut}`);
    }
  });

  it('model_length is a length finish; the last event without its blank line still counts', () => {
    const last = 'data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"model_length"}]}';
    assert.deepEqual(decode(Buffer.from(last)), [
      { type: 'text', index: 0, text: 'a' },
      { type: 'finish', index: 0, reason: 'length' },
    ]);
  });

  for (const [name, payload, code] of [
    [
      'an {"error":…} event',
      '{"error":{"object":"error","message":"boom","type":"internal_server_error"}}',
      'GW_UPSTREAM_ERROR',
    ],
    [
      'a bare Mistral error object',
      '{"object":"error","message":"boom","type":"x","param":null,"code":null}',
      'GW_UPSTREAM_ERROR',
    ],
    [
      'a choice finished with error',
      '{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}',
      'GW_UPSTREAM_ERROR',
    ],
    ['an event that is not JSON', '<html>', 'GW_UPSTREAM_BAD_RESPONSE'],
  ] as const) {
    it(`${name} throws ${code}, and the upstream's message is not passed on`, () => {
      const ok = 'data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n';
      assert.throws(
        () => decode(Buffer.from(`${ok}data: ${payload}\n\n`)),
        (err: unknown) => err instanceof GatewayError && err.code === code && !err.message.includes('boom'),
      );
    });
  }
});
