import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestSignal, type CancelSignal } from '../../src/proxy/request-signal.js';

describe('RequestSignal: AbortSignal semantics for the calls the data path makes', () => {
  it('runs each listener once, in order, with the reason set; later aborts are ignored', () => {
    const s = new RequestSignal();
    const calls: string[] = [];
    s.addEventListener('abort', () => calls.push(`a:${String(s.reason)}`));
    s.addEventListener('abort', () => calls.push('b'));
    assert.equal(s.aborted, false);
    s.abort('first');
    s.abort('second');
    assert.deepEqual(calls, ['a:first', 'b']);
    assert.equal(s.aborted, true);
    assert.equal(s.reason, 'first');
  });

  it('a removed listener never runs; one added after abort never runs', () => {
    const s = new RequestSignal();
    let removed = 0;
    let late = 0;
    const fn = (): void => void removed++;
    s.addEventListener('abort', fn);
    s.removeEventListener('abort', fn);
    s.abort(new Error('x'));
    s.addEventListener('abort', () => void late++);
    assert.equal(removed, 0);
    assert.equal(late, 0);
  });

  it('toAbortSignal() gives a real AbortSignal that fires with it, before or after', () => {
    const before = new RequestSignal();
    const real = before.toAbortSignal();
    assert.ok(real instanceof AbortSignal);
    before.abort('gone');
    assert.equal(real.aborted, true);
    assert.equal(real.reason, 'gone');
    const after = new RequestSignal();
    after.abort('late');
    assert.equal(after.toAbortSignal().reason, 'late');
  });

  it('a real AbortSignal satisfies CancelSignal, so transports accept either', () => {
    const ac = new AbortController();
    const s: CancelSignal = ac.signal;
    let fired = 0;
    s.addEventListener('abort', () => void fired++, { once: true });
    ac.abort();
    assert.equal(fired, 1);
  });
});
