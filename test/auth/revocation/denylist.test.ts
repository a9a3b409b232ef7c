import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RevocationConfig } from '../../../src/config/schema.js';
import { Denylist } from '../../../src/auth/revocation/denylist.js';
import { decodeEvent, encodeEvent } from '../../../src/auth/revocation/protocol.js';
import { RevocationList } from '../../../src/auth/revocation/revocation-list.js';

describe('revocation without Redis', () => {
  it('refuses config token ids and uids, nothing else', async () => {
    const list = new RevocationList(RevocationConfig.parse({ tokenIds: ['t-bad'], uids: ['u-bad'] }));
    await list.start();
    assert.equal(list.isRevoked('t-bad', 'u-ok'), true);
    assert.equal(list.isRevoked('t-ok', 'u-bad'), true);
    assert.equal(list.isRevoked('t-ok', 'u-ok'), false);
    assert.deepEqual(list.status(), {
      redis: false,
      connected: false,
      lastSyncAt: null,
      syncErrors: 0,
      lastError: null,
      tokenIds: 1,
      uids: 1,
    });
    await list.close();
  });

  it('replaceConfig swaps the config entries', () => {
    const list = new RevocationList(RevocationConfig.parse({ tokenIds: ['t1'] }));
    assert.equal(list.replaceConfig(RevocationConfig.parse({ tokenIds: ['t2'], uids: ['u2'] })), true);
    assert.equal(list.isRevoked('t1', 'u'), false);
    assert.equal(list.isRevoked('t2', 'u'), true);
    assert.equal(list.isRevoked('t', 'u2'), true);
  });

  it('replaceConfig reports Redis settings it cannot apply without a restart', () => {
    const list = new RevocationList(RevocationConfig.parse({}));
    const withRedis = RevocationConfig.parse({ redis: { url: 'redis://127.0.0.1:1' } });
    assert.equal(list.replaceConfig(withRedis), false);
  });
});

describe('Denylist (config ∪ Redis)', () => {
  it('an id revoked in config stays revoked when Redis un-revokes it', () => {
    const d = new Denylist();
    d.setConfig(['t-both'], []);
    d.applyRedisEvent({ op: 'revoke', tid: 't-both' });
    d.applyRedisEvent({ op: 'revoke', tid: 't-redis', uid: 'u-redis' });
    d.applyRedisEvent({ op: 'unrevoke', tid: 't-both' });
    d.applyRedisEvent({ op: 'unrevoke', uid: 'u-redis' });
    assert.equal(d.isRevoked('t-both', 'u'), true);
    assert.equal(d.isRevoked('t-redis', 'u'), true);
    assert.equal(d.isRevoked('t', 'u-redis'), false);
  });

  it('a Redis snapshot replaces only the Redis part and reports whether it changed', () => {
    const d = new Denylist();
    d.setConfig(['t-config'], ['u-config']);
    assert.equal(d.setRedis(new Set(['t-redis']), new Set()), true);
    assert.equal(d.setRedis(new Set(['t-redis']), new Set()), false);
    assert.equal(d.isRevoked('t-config', 'u'), true);
    assert.equal(d.isRevoked('t-redis', 'u'), true);
    d.setConfig([], []);
    assert.equal(d.isRevoked('t-config', 'u-config'), false);
    assert.equal(d.isRevoked('t-redis', 'u'), true);
    assert.equal(d.setRedis(new Set(), new Set()), true);
    assert.equal(d.isRevoked('t-redis', 'u'), false);
  });
});

describe('events channel messages', () => {
  it('round-trip and reject what they do not understand', () => {
    const ev = { op: 'revoke', tid: 'a b:c', uid: 'ü' } as const;
    assert.deepEqual(decodeEvent(encodeEvent(ev)), ev);
    assert.deepEqual(decodeEvent('{"op":"unrevoke","uid":"u"}'), { op: 'unrevoke', uid: 'u' });
    for (const bad of [
      '',
      'nope',
      '[]',
      'null',
      '{"op":"revoke"}',
      '{"op":"drop","tid":"t"}',
      '{"op":"revoke","tid":""}',
    ])
      assert.equal(decodeEvent(bad), undefined, bad);
  });
});
