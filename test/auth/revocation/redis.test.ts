// The shared denylist against a real redis-server: pub/sub propagation across instances, the
// resync safety net, outages (keep the last known list), reconnection, and the admin operations.
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RevocationConfig } from '../../../src/config/schema.js';
import { listRevoked, revoke, unrevoke } from '../../../src/auth/revocation/admin.js';
import type { RevocationSyncMessage } from '../../../src/auth/revocation/events.js';
import { RevocationList } from '../../../src/auth/revocation/revocation-list.js';
import { eventually, sleep } from '../../helpers/clients.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

describe('RevocationList with Redis', () => {
  let redis: RedisServer;
  const open: RevocationList[] = [];
  let prefixes = 0;

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(open.map((l) => l.close()));
    await redis.stop();
  });

  /** A unique key prefix per test, so tests sharing the server do not see each other's ids. */
  const freshPrefix = (): string => `gw-test-${process.pid}-${++prefixes}:revoked`;

  async function started(
    keyPrefix: string,
    syncIntervalMs: number,
    config: { tokenIds?: string[]; uids?: string[] } = {},
  ): Promise<RevocationList> {
    const list = new RevocationList(
      RevocationConfig.parse({ ...config, redis: { url: redis.url, keyPrefix, syncIntervalMs } }),
    );
    open.push(list);
    await list.start();
    return list;
  }

  it('a revoke on one admin call reaches two instances in under a second, via pub/sub alone', async (t) => {
    const prefix = freshPrefix();
    // A resync interval far beyond the test: only the pub/sub message can deliver the change.
    const a = await started(prefix, 60_000);
    const b = await started(prefix, 60_000);
    assert.equal(a.status().connected, true);
    assert.equal(b.status().connected, true);
    assert.equal(a.isRevoked('t1', 'u1'), false);

    let t0 = performance.now();
    assert.equal(await revoke(redis.url, prefix, { tid: 't1' }), 1);
    await eventually(() => a.isRevoked('t1', 'x') && b.isRevoked('t1', 'x'), 1000, 'tid revoked on both');
    const revokeMs = performance.now() - t0;
    assert.ok(revokeMs < 1000, `revocation took ${revokeMs.toFixed(0)} ms`);
    t.diagnostic(`revoke seen by both instances after ${revokeMs.toFixed(1)} ms (admin connect included)`);

    t0 = performance.now();
    await revoke(redis.url, prefix, { uid: 'u1' });
    await eventually(() => a.isRevoked('x', 'u1') && b.isRevoked('x', 'u1'), 1000, 'uid revoked on both');
    assert.ok(performance.now() - t0 < 1000);

    t0 = performance.now();
    assert.equal(await unrevoke(redis.url, prefix, { tid: 't1', uid: 'u1' }), 2);
    await eventually(() => !a.isRevoked('t1', 'u1') && !b.isRevoked('t1', 'u1'), 1000, 'unrevoked on both');
    assert.ok(performance.now() - t0 < 1000);
  });

  it('an SREM made without a message is seen at the next resync', async () => {
    const prefix = freshPrefix();
    await revoke(redis.url, prefix, { tid: 't-gone', uid: 'u-stays' });
    const list = await started(prefix, 200);
    // start() waited for the first resync, so entries written before start are already there.
    assert.equal(list.isRevoked('t-gone', 'x'), true);

    const raw = new Redis(redis.url);
    try {
      await raw.srem(`${prefix}:tids`, 't-gone');
    } finally {
      await raw.quit();
    }
    await eventually(() => !list.isRevoked('t-gone', 'x'), 2000, 'resync to drop t-gone');
    assert.equal(list.isRevoked('x', 'u-stays'), true);
  });

  it('replaceConfig swaps the config entries and keeps the Redis ones', async () => {
    const prefix = freshPrefix();
    await revoke(redis.url, prefix, { tid: 't-redis' });
    const list = await started(prefix, 60_000, { tokenIds: ['t-config'] });
    assert.equal(list.isRevoked('t-config', 'x'), true);
    assert.equal(list.isRevoked('t-redis', 'x'), true);

    const settings = { url: redis.url, keyPrefix: prefix, syncIntervalMs: 60_000 };
    assert.equal(list.replaceConfig(RevocationConfig.parse({ uids: ['u-new'], redis: settings })), true);
    assert.equal(list.isRevoked('t-config', 'x'), false);
    assert.equal(list.isRevoked('x', 'u-new'), true);
    assert.equal(list.isRevoked('t-redis', 'x'), true);

    // A config entry is not lifted by an unrevoke in Redis of the same id.
    list.replaceConfig(RevocationConfig.parse({ tokenIds: ['t-redis'], redis: settings }));
    await unrevoke(redis.url, prefix, { tid: 't-redis' });
    await sleep(100);
    assert.equal(list.isRevoked('t-redis', 'x'), true);
  });

  it('keeps the last known list through an outage, then reconnects and resyncs', async () => {
    const prefix = freshPrefix();
    const list = await started(prefix, 200);
    await revoke(redis.url, prefix, { tid: 't-before', uid: 'u-before' });
    await eventually(() => list.isRevoked('t-before', 'x'), 1000, 't-before');

    await redis.kill();
    await eventually(() => !list.status().connected, 2000, 'status to show disconnected');
    const { lastSyncAt } = list.status();
    // Several resync intervals with Redis gone: the list must neither clear nor throw.
    await sleep(700);
    const down = list.status();
    assert.equal(down.connected, false);
    assert.ok(down.syncErrors > 0, 'failed resyncs are counted');
    assert.equal(down.lastSyncAt, lastSyncAt);
    assert.notEqual(down.lastError, null);
    assert.equal(list.isRevoked('t-before', 'x'), true);
    assert.equal(list.isRevoked('x', 'u-before'), true);
    assert.equal(list.isRevoked('t-other', 'u-other'), false);

    await redis.restart();
    // ioredis' backoff has grown to about a second and a half by now; allow a few steps of it.
    await eventually(() => list.status().connected, 8000, 'reconnect');
    await revoke(redis.url, prefix, { tid: 't-after' });
    await eventually(() => list.isRevoked('t-after', 'x'), 1000, 't-after after reconnect');
    const up = list.status();
    assert.ok(up.lastSyncAt !== null && lastSyncAt !== null && up.lastSyncAt > lastSyncAt);
    // Redis is the authority whenever it answers: this one restarted empty (no persistence), so
    // the earlier entries are gone. Production Redis must persist the sets (AOF or RDB).
    assert.equal(list.isRevoked('t-before', 'x'), false);
  });

  it('start() does not hold up startup when Redis is unreachable', async () => {
    const list = new RevocationList(
      RevocationConfig.parse({ tokenIds: ['t-config'], redis: { url: 'redis://127.0.0.1:1' } }),
      { startTimeoutMs: 300 },
    );
    const t0 = performance.now();
    await list.start();
    const ms = performance.now() - t0;
    assert.ok(ms >= 250 && ms < 1500, `start took ${ms.toFixed(0)} ms`);
    assert.equal(list.isRevoked('t-config', 'x'), true);
    const status = list.status();
    assert.equal(status.connected, false);
    assert.equal(status.lastSyncAt, null);
    await list.close();
  });

  it('publishes counts, never ids, on ghostwire:auth:revocation-sync', async () => {
    const seen: RevocationSyncMessage[] = [];
    const onMessage = (m: unknown): void => void seen.push(m as RevocationSyncMessage);
    diagnostics_channel.subscribe('ghostwire:auth:revocation-sync', onMessage);
    try {
      const prefix = freshPrefix();
      await revoke(redis.url, prefix, { tid: 'secret-looking-tid' });
      const list = await started(prefix, 60_000);
      await revoke(redis.url, prefix, { uid: 'some-uid' });
      await eventually(() => list.isRevoked('x', 'some-uid'), 1000, 'uid');
    } finally {
      diagnostics_channel.unsubscribe('ghostwire:auth:revocation-sync', onMessage);
    }
    assert.ok(seen.some((m) => m.type === 'connection' && m.connected));
    assert.ok(seen.some((m) => m.type === 'sync' && m.changed && m.tokenIds === 1 && m.uids === 0));
    assert.ok(seen.some((m) => m.type === 'event' && m.op === 'revoke' && m.uids === 1));
    const text = JSON.stringify(seen);
    assert.ok(!text.includes('secret-looking-tid') && !text.includes('some-uid'), text);
  });

  it('admin operations: list, validation, and a clear error when Redis is down', async () => {
    const prefix = freshPrefix();
    await revoke(redis.url, prefix, { tid: 'b' });
    await revoke(redis.url, prefix, { tid: 'a', uid: 'u' });
    assert.equal(await revoke(redis.url, prefix, { tid: 'a' }), 0, 'already revoked: nothing new');
    assert.deepEqual(await listRevoked(redis.url, prefix), { tokenIds: ['a', 'b'], uids: ['u'] });

    await assert.rejects(revoke(redis.url, prefix, {}), TypeError);
    await assert.rejects(unrevoke(redis.url, prefix, { tid: '' }), TypeError);
    await assert.rejects(listRevoked('redis://127.0.0.1:1', prefix), /ECONNREFUSED/);
  });
});
