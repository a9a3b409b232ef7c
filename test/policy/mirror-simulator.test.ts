// Pins down shadow cancellation at a real model server (issue 7, item 2): when the client resets
// the primary's stream, the shadow's upstream stream is reset too, and the shadow simulator stops
// generating at once (its cancelled counter, and at most the one token in progress after it).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, eventually, h2connect, sleep } from '../helpers/clients.js';
import { gatewayFor } from '../helpers/gateway.js';

const { NGHTTP2_CANCEL } = http2.constants;
const MAX_TOKENS = 200;

describe('mirroring: a client reset reaches the shadow model server', () => {
  let primary: Simulator;
  let shadow: Simulator;
  let gw: Gateway;

  before(async () => {
    // 200 tokens × 15 ms: both streams are mid-generation for 3 s unless they are reset.
    primary = await startSimulator({ ttftMs: 5, tokenMs: 15, maxTokens: MAX_TOKENS });
    shadow = await startSimulator({ ttftMs: 5, tokenMs: 15, maxTokens: MAX_TOKENS });
    gw = await gatewayFor({
      deployments: [
        { name: 'primary', url: `h2c://127.0.0.1:${primary.port}` },
        { name: 'shadow', url: `h2c://127.0.0.1:${shadow.port}` },
      ],
      models: [{ name: 'default', deployments: ['primary'] }],
      routing: { health: { active: { enabled: false } } },
      policy: { mirrors: [{ deployment: 'shadow', sample: 1 }] },
    });
  });
  after(async () => {
    await gw.close(100);
    await primary.close();
    await shadow.close();
  });

  it('the shadow simulator counts the request cancelled, and generates nothing more', async () => {
    const session = await h2connect(gw.urls[0] as string);
    try {
      const req = session.request({
        ':method': 'POST',
        ':path': '/v1/engines/default/completions',
        'content-type': 'application/json',
      });
      req.on('error', () => {});
      let chunks = 0;
      req.on('data', () => chunks++);
      req.end(copilotBody({ max_tokens: MAX_TOKENS }));
      await eventually(() => chunks > 3 && shadow.stats().active === 1, 3000, 'both streams generating');
      await sleep(60);
      req.close(NGHTTP2_CANCEL);
      await eventually(() => shadow.stats().cancelled === 1, 2000, 'the shadow cancelled');
      await eventually(() => primary.stats().cancelled === 1, 2000, 'the primary cancelled');
      const generated = shadow.stats().tokens_generated;
      await sleep(100); // a shadow still running would add ~6 tokens here
      const s = shadow.stats();
      assert.equal(s.completed, 0);
      assert.equal(s.tokens_generated, generated, 'no token after the reset');
      assert.ok(s.tokens_after_cancel <= 1, `tokens_after_cancel ${s.tokens_after_cancel}`);
      assert.ok(s.tokens_generated < MAX_TOKENS / 2, `${s.tokens_generated} tokens generated`);
      await eventually(() => gw.policy.stats().mirrors.shadow?.cancelledTotal === 1);
      assert.equal(gw.policy.stats().mirrors.shadow?.inFlight, 0);
    } finally {
      session.close();
    }
  });
});
