import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueueFullError, SlotScheduler } from '../../src/simulator/scheduler.js';

test('grants slots first-in first-out and refuses beyond the queue limit', async () => {
  const s = new SlotScheduler(1, 2);
  const never = new AbortController().signal;
  const first = await s.acquire(never);
  const order: string[] = [];
  const b = s.acquire(never).then((l) => (order.push('b'), l));
  const c = s.acquire(never).then((l) => (order.push('c'), l));
  await assert.rejects(s.acquire(never), QueueFullError);
  assert.deepEqual([s.active, s.queued], [1, 2]);
  first.release();
  first.release(); // a second release must not free a second slot
  assert.deepEqual([s.active, s.queued], [1, 1]);
  (await b).release();
  (await c).release();
  assert.deepEqual(order, ['b', 'c']);
  assert.deepEqual([s.active, s.queued], [0, 0]);
});

test('an aborted waiter leaves the queue and is never granted', async () => {
  const s = new SlotScheduler(1, 10);
  const held = await s.acquire(new AbortController().signal);
  const gone = new AbortController();
  const waiting = s.acquire(gone.signal);
  const next = s.acquire(new AbortController().signal);
  gone.abort(new Error('client left'));
  await assert.rejects(waiting, /client left/);
  assert.equal(s.queued, 1);
  held.release();
  (await next).release();
  assert.equal(s.active, 0);
});

test('peaks are high-water marks of active and queued; resetPeaks restarts them from the current levels', async () => {
  const s = new SlotScheduler(2, 10);
  const never = new AbortController().signal;
  const a = await s.acquire(never);
  const b = s.tryAcquire();
  const waiting = [s.acquire(never), s.acquire(never), s.acquire(never)];
  assert.deepEqual([s.peakActive, s.peakQueued], [2, 3]);
  a.release();
  b?.release();
  assert.deepEqual([s.active, s.queued], [2, 1]);
  assert.deepEqual([s.peakActive, s.peakQueued], [2, 3], 'marks stay after the levels fall');
  s.resetPeaks();
  assert.deepEqual([s.peakActive, s.peakQueued], [2, 1], 'what is running or waiting now still counts');
  for (const waiter of waiting) (await waiter).release();
  s.resetPeaks();
  assert.deepEqual([s.peakActive, s.peakQueued], [0, 0]);
});
