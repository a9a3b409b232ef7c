// Pins down the reading of text_completion events: the fast path (no JSON.parse, for the common
// one-choice event) gives exactly what a full parse gives, for any text and shape; other shapes,
// usage and in-band errors take the full parse; a payload that is not JSON is a clear error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CompletionEvent } from '../../src/protocol/model.js';
import { completionsEvents } from '../../src/protocol/upstream/openai.js';
import { GatewayError } from '../../src/errors/gateway-error.js';

function events(data: string): CompletionEvent[] {
  const out: CompletionEvent[] = [];
  completionsEvents(data, (e) => out.push(e));
  return out;
}

/** The reference reading: a full JSON.parse. */
function reference(obj: {
  choices: { text: string; index: number; finish_reason: string | null }[];
}): CompletionEvent[] {
  const out: CompletionEvent[] = [];
  for (const c of obj.choices) {
    if (c.text.length > 0) out.push({ type: 'text', index: c.index, text: c.text });
    if (c.finish_reason !== null)
      out.push({ type: 'finish', index: c.index, reason: c.finish_reason === 'length' ? 'length' : 'stop' });
  }
  return out;
}

describe('text_completion events', () => {
  it('the one-choice event, for any text (escapes, quotes, backslashes, unicode), reads as the full parse does', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.nat({ max: 20 }),
        fc.constantFrom(null, 'stop', 'length', 'content_filter'),
        fc.string({ maxLength: 12 }),
        (text, index, finish, id) => {
          const obj = {
            id,
            object: 'text_completion',
            created: 1,
            model: 'm',
            choices: [{ text, index, finish_reason: finish, logprobs: null }],
          };
          const data = JSON.stringify(obj);
          assert.deepEqual(events(data), reference(obj));
          assert.deepEqual(events(data), events(data)); // the position hint changes nothing
        },
      ),
      { numRuns: 5000 },
    );
  });
  it('several choices, usage, logprobs and spaced JSON take the full parse', () => {
    assert.deepEqual(
      events(
        '{"choices":[{"text":"a","index":0,"finish_reason":null,"logprobs":null},{"text":"b","index":1,"finish_reason":"length","logprobs":null}]}',
      ),
      [
        { type: 'text', index: 0, text: 'a' },
        { type: 'text', index: 1, text: 'b' },
        { type: 'finish', index: 1, reason: 'length' },
      ],
    );
    assert.deepEqual(
      events(
        '{"choices": [{"text": "x", "index": 0, "finish_reason": null}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}',
      ),
      [
        { type: 'text', index: 0, text: 'x' },
        { type: 'usage', promptTokens: 3, completionTokens: 1 },
      ],
    );
    assert.deepEqual(
      events('{"choices":[{"text":"t","index":0,"finish_reason":null,"logprobs":{"tokens":["t"]}}]}'),
      [{ type: 'text', index: 0, text: 't', logprobs: { tokens: ['t'] } }],
    );
    assert.deepEqual(events('[DONE]'), []);
  });
  it('an in-band error is GW_UPSTREAM_ERROR without the server text; a payload that is not JSON is GW_UPSTREAM_BAD_RESPONSE', () => {
    assert.throws(
      () => events('{"error":{"message":"secret prompt echoed"}}'),
      (e: unknown) =>
        e instanceof GatewayError && e.code === 'GW_UPSTREAM_ERROR' && !e.message.includes('secret'),
    );
    assert.throws(
      () => events('{"choices":[{"text":"x"'),
      (e: unknown) => e instanceof GatewayError && e.code === 'GW_UPSTREAM_BAD_RESPONSE',
    );
  });
});
