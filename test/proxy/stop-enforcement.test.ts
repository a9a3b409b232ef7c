// Pins down the gateway's safety net under a model server that ignores `stop` and Copilot's
// trim_by_indentation (issue 5, item 5): the client's text ends where it must, a stop split over
// two chunks still stops, the upstream stream is reset (RST_STREAM CANCEL) so the model stops,
// and with `stopSequences: trust` the server's bytes pass through untouched.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/server/gateway.js';
import { copilotBody, eventually, h2connect, h2request, sseEvents } from '../helpers/clients.js';
import { fakeH2Upstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { gatewayFor, recordRequests } from '../helpers/gateway.js';

const { NGHTTP2_CANCEL } = http2.constants;

/** One text_completion event as an OpenAI-compatible server sends it. */
function event(text: string, finish: string | null = null): string {
  return `data: {"id":"cmpl-up","object":"text_completion","created":1,"model":"m","choices":[{"text":${JSON.stringify(text)},"index":0,"finish_reason":${finish === null ? 'null' : `"${finish}"`},"logprobs":null}]}\n\n`;
}

/** Text of choice 0 from an SSE body, and its finish reason. */
function sseText(body: string): { text: string; finish: string | null } {
  let text = '';
  let finish: string | null = null;
  for (const e of sseEvents(body)) {
    if (e === '[DONE]') continue;
    const c = (e as { choices: { text: string; finish_reason: string | null }[] }).choices[0];
    if (c === undefined) continue;
    text += c.text;
    finish = c.finish_reason ?? finish;
  }
  return { text, finish };
}

// A model server that ignores stop sequences and never closes blocks: it streams its pieces one
// by one, 5 ms apart, and records how its stream ended.
const PIECES = ['function f() {\n', '    return 1;', '\n', '\n', '\n}\n', 'function g() {}', '\n'];

describe('stop sequences and block ends enforced by the gateway', () => {
  let upstream: FakeUpstream;
  const resets: (number | undefined)[] = [];
  let enforce: Gateway;
  let trust: Gateway;

  before(async () => {
    upstream = await fakeH2Upstream((stream, headers) => {
      if (headers[':method'] !== 'POST') {
        stream.respond({ ':status': 200 });
        stream.end();
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      stream.on('close', () => resets.push(stream.rstCode));
      let i = 0;
      const next = (): void => {
        if (stream.destroyed) return;
        const piece = PIECES[i++];
        if (piece === undefined) {
          stream.end(event('', 'length') + 'data: [DONE]\n\n');
          return;
        }
        stream.write(event(piece));
        setTimeout(next, 5);
      };
      next();
    });
    const config = (stopSequences: 'enforce' | 'trust') => ({
      deployments: [{ name: 'loose', url: upstream.url, stopSequences }],
      models: [{ name: 'default', deployments: ['loose'] }],
    });
    enforce = await gatewayFor(config('enforce'));
    trust = await gatewayFor(config('trust'));
  });
  after(async () => {
    await enforce.close(100);
    await trust.close(100);
    await upstream.close();
  });

  it('Copilot stream: a stop split over chunks ends the choice, the upstream is reset, the request is ok', async () => {
    const rec = recordRequests();
    const session = await h2connect(enforce.urls[0] as string);
    try {
      const before = resets.length;
      const res = await h2request(
        session,
        '/v1/engines/default/completions',
        copilotBody({ stop: ['\n\n\n'] }),
      );
      assert.equal(res.status, 200);
      const { text, finish } = sseText(res.body);
      // Pass-through watches without holding back: the stop's first newlines were already sent.
      assert.equal(text, 'function f() {\n    return 1;\n\n');
      assert.equal(finish, 'stop');
      assert.equal(sseEvents(res.body).at(-1), '[DONE]');
      await eventually(() => resets.length > before);
      assert.equal(resets.at(-1), NGHTTP2_CANCEL, 'the model server was told to stop');
      await eventually(() => rec.ended.length > 0);
      assert.equal(rec.ended.at(-1)?.outcome, 'ok');
    } finally {
      rec.stop();
      session.close();
    }
  });

  it('OpenAI non-streaming: the exact cut (nothing of the stop is in the text)', async () => {
    const session = await h2connect(enforce.urls[0] as string);
    try {
      const res = await h2request(
        session,
        '/v1/completions',
        JSON.stringify({ model: 'default', prompt: 'x', stop: '\n\n\n', stream: false }),
      );
      assert.equal(res.status, 200, res.body);
      const body = JSON.parse(res.body) as {
        object: string;
        choices: { text: string; finish_reason: string }[];
      };
      assert.equal(body.object, 'text_completion');
      assert.equal(body.choices[0]?.text, 'function f() {\n    return 1;');
      assert.equal(body.choices[0]?.finish_reason, 'stop');
    } finally {
      session.close();
    }
  });

  it('trim_by_indentation: the completion ends with the block, and the upstream is reset', async () => {
    const session = await h2connect(enforce.urls[0] as string);
    try {
      const before = resets.length;
      const res = await h2request(
        session,
        '/v1/engines/default/completions',
        copilotBody({ extra: { trim_by_indentation: true, next_indent: 4 } }),
      );
      const { text, finish } = sseText(res.body);
      assert.equal(text.trimEnd(), 'function f() {\n    return 1;');
      assert.equal(finish, 'stop');
      await eventually(() => resets.length > before);
      assert.equal(resets.at(-1), NGHTTP2_CANCEL);
    } finally {
      session.close();
    }
  });

  it('stopSequences: trust passes the server bytes through untouched', async () => {
    const session = await h2connect(trust.urls[0] as string);
    try {
      const res = await h2request(
        session,
        '/v1/engines/default/completions',
        copilotBody({ stop: ['\n\n\n'] }),
      );
      assert.equal(sseText(res.body).text, PIECES.join(''));
      assert.ok(res.body.includes('"id":"cmpl-up"'), "the upstream's own events");
    } finally {
      session.close();
    }
  });
});
