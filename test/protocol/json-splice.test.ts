// spliceFields: top-level fields of a JSON object edited in its bytes. Whatever the object (nested
// values, escapes, quotes and backslashes in strings, whitespace, unicode), the result parses to
// the object with the edits applied, and bytes outside the edited fields are copied unchanged.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { spliceFields } from '../../src/protocol/json-splice.js';

const parse = (b: Buffer | undefined): unknown =>
  b === undefined ? undefined : JSON.parse(b.toString('utf8'));

function expected(
  obj: Record<string, unknown>,
  edits: ReadonlyMap<string, unknown>,
): Record<string, unknown> {
  const out = { ...obj };
  for (const [k, v] of edits) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

describe('spliceFields', () => {
  it('replaces in place, removes, appends; the prompt bytes are copied as they are', () => {
    const raw = Buffer.from(
      '{ "prompt" : "a \\"quoted\\" \\\\ line\\n}{,]" , "max_tokens": 100, "stop": ["\\n\\n"], "extra": {"a": [1, {"b": "}"}]}, "n": 2 }',
    );
    const out = spliceFields(
      raw,
      new Map<string, unknown>([
        ['max_tokens', 7],
        ['stop', undefined],
        ['temperature', 0.1],
      ]),
    );
    assert.equal(
      out?.toString(),
      '{"prompt" : "a \\"quoted\\" \\\\ line\\n}{,]","max_tokens":7,"extra": {"a": [1, {"b": "}"}]},"n": 2,"temperature":0.1}',
    );
    assert.deepEqual(parse(out), {
      prompt: 'a "quoted" \\ line\n}{,]',
      max_tokens: 7,
      extra: { a: [1, { b: '}' }] },
      n: 2,
      temperature: 0.1,
    });
  });

  it('an empty object, a duplicate key (one field remains), and what is not an object', () => {
    assert.deepEqual(parse(spliceFields(Buffer.from(' {} '), new Map([['a', 1]]))), { a: 1 });
    assert.equal(spliceFields(Buffer.from('{"a":1,"a":2}'), new Map([['a', 3]]))?.toString(), '{"a":3}');
    assert.equal(spliceFields(Buffer.from('[1,2]'), new Map([['a', 1]])), undefined);
    assert.equal(spliceFields(Buffer.from('{"a":"unterminated}'), new Map([['a', 1]])), undefined);
  });

  it('property: any object, any edits: the bytes parse to the edited object', () => {
    const key = fc.oneof(
      fc.constantFrom('prompt', 'max_tokens', 'stop', 'model', 'n', 'a"b', 'c\\d'),
      fc.string(),
    );
    const value = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(
        fc.dictionary(key, value, { maxKeys: 8 }),
        fc.array(fc.tuple(key, fc.option(value, { nil: undefined })), { maxLength: 5 }),
        fc.constantFrom(0, 2),
        (obj, editList, indent) => {
          // JSON.parse turns "__proto__" into an own key; the spread in `expected` would not.
          fc.pre(!('__proto__' in obj) && editList.every(([k]) => k !== '__proto__'));
          const edits = new Map(editList);
          const raw = Buffer.from(JSON.stringify(obj, null, indent));
          const out = spliceFields(raw, edits);
          assert.deepEqual(parse(out), JSON.parse(JSON.stringify(expected(obj, edits))));
        },
      ),
      { numRuns: 500 },
    );
  });
});
