import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { RequestContext } from '../../src/proxy/context.js';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { channels } from '../../src/telemetry/events.js';
import { copilotBody, eventually, h2connect, h2request } from '../helpers/clients.js';
import { gatewayTo, recordRequests } from '../helpers/gateway.js';

const PATH = '/v1/engines/default/completions';

/** What telemetry reads off a request: the fields every subscriber relies on, over a real socket. */
describe('request events carry what telemetry needs', () => {
  let sim: Simulator;
  let gw: Gateway;

  before(async () => {
    sim = await startSimulator({ ttftMs: 20, tokenMs: 5, slots: 8, maxTokens: 8 });
    gw = await gatewayTo(`h2c://127.0.0.1:${sim.port}`, {
      routing: { health: { active: { enabled: false } } },
    });
  });
  after(async () => {
    await gw.close();
    await sim.close();
  });

  it('a completed request: deployment, region, client versions, queue wait, upstream and client first byte, in order', async () => {
    const rec = recordRequests();
    const order: string[] = [];
    const onStart = (): void => void order.push('upstream:start');
    const onFirst = (): void => void order.push('upstream:first-byte');
    const onEnd = (): void => void order.push('request:end');
    channels.upstreamStart.subscribe(onStart);
    channels.upstreamFirstByte.subscribe(onFirst);
    channels.requestEnd.subscribe(onEnd);
    const session = await h2connect(gw.urls[0] as string);
    try {
      const res = await h2request(session, PATH, copilotBody(), {
        'editor-version': 'vscode/1.95.0',
        'editor-plugin-version': 'copilot/1.250.0',
      });
      assert.equal(res.status, 200);
      await eventually(() => rec.ended.length === 1);
    } finally {
      session.close();
      rec.stop();
      channels.upstreamStart.unsubscribe(onStart);
      channels.upstreamFirstByte.unsubscribe(onFirst);
      channels.requestEnd.unsubscribe(onEnd);
    }
    const ctx = rec.ended[0] as RequestContext;
    assert.deepEqual(order, ['upstream:start', 'upstream:first-byte', 'request:end']);
    assert.equal(ctx.outcome, 'ok');
    assert.equal(ctx.deployment, 'up');
    assert.equal(typeof ctx.region, 'string');
    assert.equal(ctx.editor, 'vscode/1.95.0');
    assert.equal(ctx.plugin, 'copilot/1.250.0');
    assert.equal(ctx.queueMs, 0);
    assert.equal(ctx.retries, 0);
    // The simulator waits 20 ms before its first token: both first-byte times include it.
    assert.ok((ctx.upstreamTtfbMs ?? 0) >= 15, `upstream ttfb ${ctx.upstreamTtfbMs}`);
    assert.ok(
      (ctx.ttfbMs ?? 0) >= (ctx.upstreamTtfbMs ?? 0),
      'the client sees its first byte after the upstream sent it',
    );
    assert.ok((ctx.durationMs ?? 0) >= (ctx.ttfbMs ?? 0));
    assert.equal(ctx.cancelToUpstreamMs, undefined);
  });

  it('a request the client resets mid-stream: the time to reset the upstream is recorded', async () => {
    const rec = recordRequests();
    const aborts: RequestContext[] = [];
    const onAbort = (m: unknown): void => void aborts.push(m as RequestContext);
    const ch = diagnostics_channel.channel('ghostwire:request:abort');
    ch.subscribe(onAbort);
    const session = await h2connect(gw.urls[0] as string);
    try {
      await new Promise<void>((resolve) => {
        const req = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/json' });
        req.on('data', () => {
          if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
        });
        req.on('close', resolve);
        req.on('error', () => resolve());
        req.end(copilotBody({ max_tokens: 8 }));
      });
      await eventually(() => rec.ended.length === 1);
    } finally {
      session.close();
      rec.stop();
      ch.unsubscribe(onAbort);
    }
    const ctx = rec.ended[0] as RequestContext;
    assert.equal(ctx.outcome, 'client_cancel');
    assert.equal(aborts.length, 1);
    assert.equal(typeof ctx.cancelToUpstreamMs, 'number');
    assert.ok((ctx.cancelToUpstreamMs ?? Infinity) < 50, `reset took ${ctx.cancelToUpstreamMs} ms`);
  });
});
