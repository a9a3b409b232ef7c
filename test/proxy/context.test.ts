// Pins down RequestContext's one timer: it serves the body limit and the deadline, in order, and
// finishing the request stops it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestContext } from '../../src/proxy/context.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function timed(): { fired: string[]; at: Record<string, number>; mark: (what: string) => () => void } {
  const t0 = performance.now();
  const fired: string[] = [];
  const at: Record<string, number> = {};
  return {
    fired,
    at,
    mark: (what) => () => {
      fired.push(what);
      at[what] = performance.now() - t0;
    },
  };
}

describe('RequestContext timer', () => {
  it('the body limit fires first when the body never arrives, and the deadline then does not', async () => {
    const ctx = new RequestContext('h2', undefined);
    const t = timed();
    ctx.armDeadline(120, t.mark('deadline'), { ms: 40, onExpire: t.mark('body') });
    await sleep(200);
    assert.deepEqual(t.fired, ['body']);
    assert.ok((t.at.body ?? 0) >= 38, `body limit after ${t.at.body} ms`);
  });

  it('once the body has arrived, only the deadline fires, at the deadline', async () => {
    const ctx = new RequestContext('h2', undefined);
    const t = timed();
    ctx.armDeadline(120, t.mark('deadline'), { ms: 40, onExpire: t.mark('body') });
    ctx.bodyReceived();
    await sleep(200);
    assert.deepEqual(t.fired, ['deadline']);
    assert.ok((t.at.deadline ?? 0) >= 118, `deadline after ${t.at.deadline} ms`);
  });

  it('a body limit longer than the deadline is ignored', async () => {
    const ctx = new RequestContext('h2', undefined);
    const t = timed();
    ctx.armDeadline(40, t.mark('deadline'), { ms: 500, onExpire: t.mark('body') });
    await sleep(120);
    assert.deepEqual(t.fired, ['deadline']);
  });

  it('finish() stops the timer; expireIfLate() fires the deadline once, even before its timer', async () => {
    const done = new RequestContext('h2', undefined);
    const t = timed();
    done.armDeadline(30, t.mark('deadline'), { ms: 20, onExpire: t.mark('body') });
    done.finish(200, 'ok');
    const late = new RequestContext('h2', undefined);
    late.armDeadline(1, t.mark('late'));
    const start = performance.now();
    while (performance.now() - start < 5) {
      // Busy: the timer cannot run, yet the deadline has passed.
    }
    assert.equal(late.expireIfLate(), true);
    await sleep(80);
    assert.deepEqual(t.fired, ['late']);
  });
});
