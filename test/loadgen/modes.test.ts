// Each way a client can give up on a request, over real sockets: loadgen in this process against
// a gateway and a simulator on 127.0.0.1, runs of a second or two, and what the simulator saw.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LOADGEN_DEFAULTS, type LoadgenOptions } from '../../src/loadgen/options.js';
import type { LoadgenResult } from '../../src/loadgen/result.js';
import { runLoadgen } from '../../src/loadgen/run.js';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { gatewayTo } from '../helpers/gateway.js';

describe('loadgen against a gateway: protocols, cancel modes, rate and request bounds', () => {
  let sim: Simulator;
  let gw: Gateway;
  before(async () => {
    sim = await startSimulator();
    gw = await gatewayTo(sim.url.replace(/^http:/, 'h2c:'));
  });
  after(async () => {
    await gw.close(500);
    await sim.close();
  });

  const run = async (o: Partial<LoadgenOptions>): Promise<LoadgenResult> => {
    const opts: LoadgenOptions = {
      ...LOADGEN_DEFAULTS,
      url: gw.urls[0],
      corpus: undefined,
      requests: undefined,
      developers: 10,
      durationS: 1.5,
      drainMs: 3000,
      statsUrls: [sim.url],
      ...o,
    };
    return (await runLoadgen(opts)).result;
  };

  const assertClean = (r: LoadgenResult): void => {
    assert.equal(r.errors.total, 0, JSON.stringify(r.errors));
    assert.equal(r.unfinished, 0);
    assert.ok(r.requests > 10, `${r.requests} requests`);
    assert.equal(r.gpu?.requests, r.requests, 'every request reached the simulator once');
  };

  test('h2 reset: cancels are RST_STREAMs the simulator sees, the connections stay up', async () => {
    const r = await run({ protocol: 'h2', cancel: 'reset' });
    assertClean(r);
    assert.ok(r.cancelled.reset > 0 && r.cancelled.close === 0, JSON.stringify(r.cancelled));
    assert.equal(r.gpu?.cancelled, r.cancelled.total);
    assert.equal(r.completed + r.cancelled.total, r.requests);
  });

  test('h1 close: HTTP/1.1 keep-alive, a cancel closes the connection and the simulator stops', async () => {
    const r = await run({ protocol: 'h1', cancel: 'close' });
    assertClean(r);
    assert.ok(r.cancelled.close > 0 && r.cancelled.reset === 0, JSON.stringify(r.cancelled));
    assert.ok((r.gpu?.joined ?? 0) >= 0.95 * r.cancelled.total, `${r.gpu?.joined} of ${r.cancelled.total}`);
    assert.equal(r.gpu?.tokens_after_cancel, 0);
  });

  test('h2 close: the session is destroyed on each cancel and the developer reconnects', async () => {
    const r = await run({ protocol: 'h2', cancel: 'close' });
    assertClean(r);
    assert.ok(r.cancelled.close > 0 && r.cancelled.reset === 0, JSON.stringify(r.cancelled));
    assert.ok(r.completed > 0, 'requests after a reconnect complete');
    assert.ok((r.gpu?.joined ?? 0) >= 0.95 * r.cancelled.total, `${r.gpu?.joined} of ${r.cancelled.total}`);
  });

  test('never: a bad client lets every request run; nothing is cancelled, stale completions are counted', async () => {
    const r = await run({ cancel: 'never' });
    assertClean(r);
    assert.equal(r.cancelled.total, 0);
    assert.equal(r.gpu?.cancelled, 0);
    assert.equal(r.completed, r.requests);
    assert.ok(r.stale > 0, 'developers typed on while requests ran');
    assert.ok(r.stale <= r.completed);
  });

  test('rate mode sends the asked rate across developers; --requests stops the run early', async () => {
    const r = await run({ mode: 'rate', rate: 60, durationS: 1.5 });
    assert.equal(r.errors.total, 0);
    assert.ok(Math.abs(r.requests - 90) <= 3, `${r.requests} requests at 60/s for 1.5 s`);
    assert.equal(r.latency_ms.at_pause, null, 'no debounce in rate mode');
    const capped = await run({ requests: 25, durationS: 10 });
    assert.equal(capped.requests, 25);
    assert.ok(capped.sending_s < 5, `stopped after ${capped.sending_s} s`);
  });
});
