import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Call } from '../../src/loadgen/call.js';

function call(): { c: Call; settled: Call[] } {
  const settled: Call[] = [];
  return { c: new Call('id-1', 0, undefined, (x) => settled.push(x)), settled };
}

const event = (text: string, finish: string | null = null): string =>
  `data: ${JSON.stringify({ choices: [{ text, index: 0, finish_reason: finish }] })}\n\n`;

test('a stream ending with [DONE] completes once, whatever the chunking; text is counted', () => {
  const { c, settled } = call();
  c.onResponse(200);
  const body = event('const a') + event(' = 1;', 'stop') + 'data: [DONE]\n\n';
  for (let i = 0; i < body.length; i += 7) c.onData(body.slice(i, i + 7));
  c.onEnd();
  c.onError('connection_closed'); // what a transport reports after a clean end is ignored
  assert.equal(settled.length, 1);
  assert.equal(c.outcome, 'completed');
  assert.equal(c.textChars, 'const a = 1;'.length);
  assert.ok(c.firstTokenAt !== undefined && c.firstTokenAt >= c.sentAt);
});

test('an end without [DONE] is a truncated stream', () => {
  const { c } = call();
  c.onResponse(200);
  c.onData(event('x'));
  c.onEnd();
  assert.deepEqual([c.outcome, c.code], ['error', 'truncated']);
});

test('an error status is counted by the gateway code of its body', () => {
  const { c } = call();
  c.onResponse(503);
  c.onData('{"error":{"code":"GW_NO_CAPACITY","message":"busy"}}');
  c.onEnd();
  assert.deepEqual([c.outcome, c.code], ['error', 'GW_NO_CAPACITY']);
  const { c: bare } = call();
  bare.onResponse(502);
  bare.onEnd();
  assert.deepEqual([bare.outcome, bare.code], ['error', 'HTTP_502']);
});

test('an in-band error event is an error with its code; GW_SUPERSEDED and finish_reason superseded are supersessions', () => {
  const { c } = call();
  c.onResponse(200);
  c.onData(event('a') + 'data: {"error":{"code":"GW_UPSTREAM_CLOSED"}}\n\n');
  assert.deepEqual([c.outcome, c.code], ['error', 'GW_UPSTREAM_CLOSED']);
  const { c: s1 } = call();
  s1.onResponse(200);
  s1.onData('data: {"error":{"code":"GW_SUPERSEDED","message":"a newer request"}}\n\n');
  assert.equal(s1.outcome, 'superseded');
  const { c: s2 } = call();
  s2.onResponse(200);
  s2.onData(event('a') + event('', 'superseded'));
  assert.equal(s2.outcome, 'superseded');
  const { c: s3 } = call();
  s3.onResponse(409);
  s3.onData('{"error":{"code":"GW_SUPERSEDED"}}');
  s3.onEnd();
  assert.equal(s3.outcome, 'superseded');
});

test('a cancel settles first and then tells the transport; later reports are ignored', () => {
  const { c, settled } = call();
  const done: string[] = [];
  c.pending = { reset: () => done.push('reset'), closeConnection: () => done.push('close') };
  c.onResponse(200);
  c.cancel('reset');
  c.onError('RST_STREAM_CANCEL');
  c.cancel('close');
  assert.deepEqual(done, ['reset']);
  assert.equal(settled.length, 1);
  assert.deepEqual([c.outcome, c.cancelKind], ['cancelled', 'reset']);
  const { c: closed } = call();
  closed.pending = { reset: () => done.push('reset'), closeConnection: () => done.push('close') };
  closed.cancel('close');
  assert.deepEqual(done, ['reset', 'close']);
});
