import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeValue, encodeValue } from '../../src/auth/token/encoding.js';
import { MAX_TOKEN_FIELDS, MAX_TOKEN_LENGTH } from '../../src/auth/token/format.js';
import { parseToken } from '../../src/auth/token/parse.js';

const MAC = 'a'.repeat(64);
const BASE = 'tid=t1;uid=u1;exp=1800000000;sku=s;kid=k';

/** The reason a token is malformed, or 'ok'. */
function why(raw: string): string {
  const r = parseToken(raw);
  return r.ok ? 'ok' : r.reason;
}

describe('token parsing is strict and never throws', () => {
  it('a minimal well-formed token parses', () => {
    const r = parseToken(`${BASE}:${MAC}`);
    assert.ok(r.ok);
    assert.equal(r.signed, BASE);
    assert.equal(r.macHex, MAC);
    assert.deepEqual(
      { ...r.claims, flags: [...r.claims.flags] },
      {
        tid: 't1',
        uid: 'u1',
        exp: 1_800_000_000,
        sku: 's',
        kid: 'k',
        org: undefined,
        proxyEp: undefined,
        flags: [],
      },
    );
  });

  it('the MAC must be exactly 64 lowercase hex after exactly one colon', () => {
    assert.match(why(BASE), /no ':'/);
    assert.match(why(''), /no ':'/);
    assert.match(why(`${BASE}:${MAC.slice(1)}`), /MAC is not/);
    assert.match(why(`${BASE}:${MAC}0`), /MAC is not/);
    assert.match(why(`${BASE}:${MAC.toUpperCase()}`), /MAC is not/);
    assert.match(why(`${BASE}:${'g'.repeat(64)}`), /MAC is not/);
    assert.match(why(`${BASE}:${MAC.slice(2)}:1`), /more than one ':'/);
    assert.match(why(`${BASE}:x:${MAC}`), /more than one ':'/);
    assert.match(why(`uid=a:b;tid=t1;exp=1;sku=s;kid=k:${MAC}`), /more than one ':'/);
  });

  it('keys: empty, missing =, bad characters, too long', () => {
    assert.match(why(`=v;${BASE}:${MAC}`), /empty key/);
    assert.match(why(`${BASE};:${MAC}`), /empty key/);
    assert.match(why(`${BASE};;x=1:${MAC}`), /empty key/);
    assert.match(why(`:${MAC}`), /empty key/);
    assert.match(why(`${BASE};flag:${MAC}`), /no '='/);
    assert.match(why(`flag;${BASE}:${MAC}`), /no '='/);
    assert.match(why(`${BASE};Chat=1:${MAC}`), /a key is not/);
    assert.match(why(`${BASE};-x=1:${MAC}`), /a key is not/);
    assert.match(why(`${BASE};a_b=1:${MAC}`), /a key is not/);
    assert.match(why(`${BASE};${'k'.repeat(33)}=1:${MAC}`), /a key is not/);
    assert.equal(why(`${BASE};${'k'.repeat(32)}=1:${MAC}`), 'ok');
    assert.equal(why(`${BASE};8kp=1;a-b=2:${MAC}`), 'ok');
  });

  it('values: printable ASCII without separators, escapes complete and uppercase', () => {
    assert.match(why(`${BASE};f=a=b:${MAC}`), /a value holds/);
    assert.match(why(`${BASE};f=a b:${MAC}`), /a value holds/);
    assert.match(why(`${BASE};f=\u00e9:${MAC}`), /a value holds/);
    assert.match(why(`${BASE};f=a\tb:${MAC}`), /a value holds/);
    assert.match(why(`${BASE};f=\u0000:${MAC}`), /a value holds/);
    assert.match(why(`${BASE};f=%:${MAC}`), /'%'/);
    assert.match(why(`${BASE};f=%4:${MAC}`), /'%'/);
    assert.match(why(`${BASE};f=%4g:${MAC}`), /'%'/);
    assert.match(why(`${BASE};f=%3a:${MAC}`), /'%'/);
    assert.match(why(`${BASE};f=%3;x=1:${MAC}`), /'%'/);
    assert.equal(why(`${BASE};f=:${MAC}`), 'ok', 'an empty flag value is allowed');
    assert.equal(why(`${BASE};f=%3A%C3%BC!~:${MAC}`), 'ok');
  });

  it('escapes decode (ASCII and UTF-8) and encodeValue is their inverse', () => {
    const r = parseToken(`tid=t1;uid=a%3Bb%C3%BC;exp=1;sku=s%20x;kid=k;proxy-ep=h%3A1:${MAC}`);
    assert.ok(r.ok);
    assert.equal(r.claims.uid, 'a;bü');
    assert.equal(r.claims.sku, 's x');
    assert.equal(r.claims.proxyEp, 'h:1');
    for (const s of ['', 'plain', 'a;b:c=d%e f', 'ü🐱', '\u0000\u007f', 'user@example.com']) {
      const e = encodeValue(s);
      assert.match(e, /^[\x21-\x7e]*$/);
      assert.ok(!/[;:=]/.test(e));
      assert.equal(decodeValue(e), s);
    }
    assert.equal(encodeValue('user@example.com'), 'user@example.com', 'ordinary values stay readable');
    assert.throws(() => encodeValue('\ud800'), /well-formed/);
    assert.equal(decodeValue('a b'), undefined);
    assert.equal(decodeValue('%zz'), undefined);
  });

  it('exp is a non-negative integer without sign, exponent, fraction or leading zero', () => {
    const withExp = (e: string): string => why(`tid=t1;uid=u1;exp=${e};sku=s;kid=k:${MAC}`);
    for (const bad of ['', '1.5', '-1', '+1', '01', '1e3', '0x10', 'NaN', '1234567890123456'])
      assert.match(withExp(bad), /exp is not/, bad);
    assert.equal(withExp('0'), 'ok');
    assert.equal(withExp('123456789012345'), 'ok');
  });

  it('required fields: tid, uid, exp, sku, kid present and not empty', () => {
    for (const k of ['tid', 'uid', 'exp', 'sku', 'kid']) {
      const without = BASE.split(';')
        .filter((f) => !f.startsWith(`${k}=`))
        .join(';');
      assert.equal(why(`${without}:${MAC}`), `missing field ${k}`);
    }
    for (const k of ['tid', 'uid', 'sku', 'kid'])
      assert.match(why(`${BASE.replace(new RegExp(`${k}=[^;]*`), `${k}=`)}:${MAC}`), /is empty/, k);
  });

  it('duplicates of own fields and of flags are malformed', () => {
    for (const f of [
      'tid=t2',
      'uid=u1',
      'exp=1',
      'sku=s',
      'kid=k',
      'ol=o;ol=o',
      'proxy-ep=h;proxy-ep=h',
      'x=1;x=2',
    ])
      assert.match(why(`${BASE};${f}:${MAC}`), /appears twice/, f);
  });

  it('flags are kept in a Map: keys like constructor are plain keys', () => {
    const r = parseToken(`${BASE};constructor=1;tostring=2:${MAC}`);
    assert.ok(r.ok);
    assert.equal(r.claims.flags.get('constructor'), '1');
    assert.equal(r.claims.flags.get('tostring'), '2');
    const noFlags = parseToken(`${BASE}:${MAC}`);
    assert.ok(noFlags.ok);
    assert.equal(noFlags.claims.flags.get('constructor'), undefined);
  });

  it(`at most ${MAX_TOKEN_FIELDS} fields and ${MAX_TOKEN_LENGTH} bytes`, () => {
    const flags = (n: number): string => Array.from({ length: n }, (_, i) => `;f${i}=1`).join('');
    assert.equal(why(`${BASE}${flags(MAX_TOKEN_FIELDS - 5)}:${MAC}`), 'ok');
    assert.match(why(`${BASE}${flags(MAX_TOKEN_FIELDS - 4)}:${MAC}`), /more than 32 fields/);
    const fill = (total: number): string => `${BASE};pad=${'x'.repeat(total - BASE.length - 5 - 65)}:${MAC}`;
    assert.equal(fill(MAX_TOKEN_LENGTH).length, MAX_TOKEN_LENGTH);
    assert.equal(why(fill(MAX_TOKEN_LENGTH)), 'ok');
    assert.match(why(fill(MAX_TOKEN_LENGTH + 1)), /longer than/);
  });
});
