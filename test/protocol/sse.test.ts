// Pins down the incremental SSE and NDJSON readers: the same events whatever the chunking,
// including a split inside a multi-byte character or between \r and \n; bounded buffering.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NdjsonReader, SseReader } from '../../src/protocol/sse.js';

function sseEvents(chunks: Buffer[]): string[] {
  const r = new SseReader();
  const out: string[] = [];
  for (const c of chunks) r.push(c, (d) => out.push(d));
  r.end((d) => out.push(d));
  return out;
}

/** Every way to cut `bytes` in two and in three. */
function splits(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes]];
  for (let i = 1; i < bytes.length; i++) {
    out.push([bytes.subarray(0, i), bytes.subarray(i)]);
    const j = Math.min(bytes.length - 1, i + 3);
    if (j > i) out.push([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
  }
  return out;
}

describe('SseReader', () => {
  const stream = Buffer.from(
    ': keep-alive\n\ndata: {"a":"é"}\n\nevent: x\ndata: one\ndata: two\n\r\ndata:{"b":1}\r\n\r\ndata: [DONE]\n\n',
  );
  const expected = ['{"a":"é"}', 'one\ntwo', '{"b":1}', '[DONE]'];

  it('reads data lines, joins multi-line data, skips comments and other fields, takes \\n, \\r\\n and \\r', () => {
    assert.deepEqual(sseEvents([stream]), expected);
    assert.deepEqual(sseEvents([Buffer.from('data: a\r\rdata: b\r\r')]), ['a', 'b']);
  });
  it('gives the same events for every split of the bytes (inside é, between \\r and \\n)', () => {
    for (const parts of splits(stream)) assert.deepEqual(sseEvents(parts), expected);
  });
  it('a last event without its blank line still counts at the end', () => {
    assert.deepEqual(sseEvents([Buffer.from('data: x\n\ndata: y')]), ['x', 'y']);
  });
  it('an event beyond the size bound is an error, not unbounded memory', () => {
    const r = new SseReader(64);
    assert.throws(() => r.push(Buffer.from(`data: ${'x'.repeat(100)}`), () => {}), /exceeds 64 bytes/);
  });
});

describe('NdjsonReader', () => {
  const stream = Buffer.from('{"response":"é"}\n\n{"done":true}\n');
  it('one callback per non-empty line, whatever the split', () => {
    for (const parts of splits(stream)) {
      const r = new NdjsonReader();
      const out: string[] = [];
      for (const p of parts) r.push(p, (l) => out.push(l));
      r.end((l) => out.push(l));
      assert.deepEqual(out, ['{"response":"é"}', '{"done":true}']);
    }
  });
  it('a line beyond the bound is an error', () => {
    assert.throws(() => new NdjsonReader(10).push(Buffer.from('x'.repeat(20)), () => {}), /exceeds 10 bytes/);
  });
});
