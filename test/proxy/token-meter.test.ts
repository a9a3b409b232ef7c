// Pins down how generated tokens are counted for tokens-per-minute quotas: decoded text events,
// the server's usage replacing the estimate, and undecoded SSE bytes split at every point.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenMeter } from '../../src/proxy/token-meter.js';

const event = (text: string, finish: string | null = null): string =>
  `data: {"id":"c","object":"text_completion","choices":[{"text":${JSON.stringify(text)},"index":0,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]}\n\n`;

describe('TokenMeter', () => {
  it('decoded text events count one each; a usage replaces the count', () => {
    const m = new TokenMeter();
    m.text();
    m.text();
    m.text();
    assert.equal(m.tokens, 3);
    m.usage(7);
    assert.equal(m.tokens, 7);
    m.text();
    assert.equal(m.tokens, 7, 'the usage covers the whole answer');
  });

  it('passed-through SSE: every event but [DONE] counts, at every split point, LF and CRLF', () => {
    for (const crlf of [false, true]) {
      let stream = `${event('a')}${event('b')}${event(' c')}${event('', 'length')}data: [DONE]\n\n`;
      if (crlf) stream = stream.replaceAll('\n', '\r\n');
      const bytes = Buffer.from(stream);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const m = new TokenMeter();
        m.sse(bytes.subarray(0, cut));
        m.sse(bytes.subarray(cut));
        assert.equal(m.tokens, 4, `cut at ${cut} (crlf ${crlf})`);
      }
    }
  });

  it('passed-through SSE: a usage in the stream replaces the estimate', () => {
    const m = new TokenMeter();
    m.sse(Buffer.from(event('a') + event('b')));
    m.sse(
      Buffer.from(
        'data: {"choices":[],"usage":{"prompt_tokens":10,"completion_tokens": 42}}\n\ndata: [DONE]\n\n',
      ),
    );
    assert.equal(m.tokens, 42);
  });

  it('a literal "completion_tokens" inside generated text is escaped, so never read as usage', () => {
    const m = new TokenMeter();
    m.sse(Buffer.from(event('"completion_tokens":999')));
    assert.equal(m.tokens, 1);
  });
});
