import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, h2connect, h2request, sseEvents, sseText, sleep } from '../helpers/clients.js';
import { gatewayTo } from '../helpers/gateway.js';

const PATH = '/v1/engines/default/completions';

describe('slow clients and graceful close', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ ttftMs: 1, tokenMs: 1, slots: 64, maxTokens: 2000 });
  });
  after(async () => {
    await sim.close();
  });

  it('a client that stops reading gets every byte, in order, once it reads again', async () => {
    const gw = await gatewayTo(`h2c://127.0.0.1:${sim.port}`);
    // A small receive window makes the gateway's writes back up almost at once.
    const session = http2.connect(gw.urls[0] as string, { settings: { initialWindowSize: 4096 } });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/json' });
        let got = '';
        req.setEncoding('utf8');
        req.once('data', (d: string) => {
          got += d;
          req.pause();
          setTimeout(() => {
            req.on('data', (x: string) => (got += x));
            req.resume();
          }, 300);
        });
        req.on('end', () => resolve(got));
        req.on('error', reject);
        req.end(copilotBody({ max_tokens: 1500, stop: [] }));
      });
      const events = sseEvents(body);
      assert.equal(events.at(-1), '[DONE]');
      // Nothing lost or reordered: a direct request to the simulator yields the same text.
      const direct = await h2connect(sim.url);
      const ref = await h2request(direct, PATH, copilotBody({ max_tokens: 1500, stop: [] }));
      direct.close();
      assert.equal(sseText(body), sseText(ref.body));
      assert.ok(sseText(body).length > 1000);
    } finally {
      session.close();
      await gw.close(100);
    }
  });

  it('close(): clients get GOAWAY, the in-flight stream finishes, new connections are refused', async () => {
    const slow = await startSimulator({ ttftMs: 1, tokenMs: 20, maxTokens: 20 });
    const gw = await gatewayTo(`h2c://127.0.0.1:${slow.port}`);
    const url = gw.urls[0] as string;
    const session = await h2connect(url);
    let goaway = false;
    session.on('goaway', () => (goaway = true));
    try {
      const inflight = h2request(session, PATH, copilotBody({ max_tokens: 20 }));
      await sleep(60);
      const closing = gw.close(5000);
      await sleep(20);
      assert.ok(goaway, 'the client got GOAWAY');
      const res = await inflight;
      assert.equal(res.status, 200);
      assert.equal(sseEvents(res.body).at(-1), '[DONE]', 'the in-flight stream completed');
      await closing;
      await assert.rejects(h2connect(url), 'the listener no longer accepts');
    } finally {
      session.destroy();
      await slow.close();
    }
  });
});
