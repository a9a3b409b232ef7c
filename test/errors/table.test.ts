import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_TABLE } from '../../src/errors/codes.js';

describe('errors are a table, documented', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

  it('docs/errors.md lists every code with its status, and nothing else', () => {
    const rows = new Map<string, string>();
    for (const m of doc.matchAll(/^\|\s*`(GW_[A-Z_]+)`\s*\|\s*(\d{3})/gm))
      rows.set(m[1] as string, m[2] as string);
    for (const [code, { status }] of Object.entries(ERROR_TABLE)) {
      assert.equal(rows.get(code), String(status), `${code} missing or wrong status in docs/errors.md`);
    }
    assert.deepEqual([...rows.keys()].sort(), Object.keys(ERROR_TABLE).sort());
  });

  it('codes are stable-looking and messages actionable', () => {
    for (const [code, { status, message }] of Object.entries(ERROR_TABLE)) {
      assert.match(code, /^GW_[A-Z_]+$/);
      assert.ok(status >= 400 && status < 600);
      assert.ok(message.endsWith('.') && message.length > 20, code);
    }
  });
});
