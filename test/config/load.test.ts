import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfigFile, validateConfig } from '../../src/config/load.js';

function problems(value: unknown): { path: string; message: string }[] {
  try {
    validateConfig(value);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

const minimal = {
  auth: { mode: 'none' },
  deployments: [{ name: 'a', url: 'h2c://127.0.0.1:9000' }],
  models: [{ name: 'default', deployments: ['a'] }],
};

describe('config: validated once, every problem with its path, then frozen', () => {
  it('a minimal file gets defaults with units in their names', () => {
    const cfg = validateConfig(minimal);
    assert.equal(cfg.listeners[0]?.port, 8080);
    assert.equal(cfg.limits.maxBodyBytes, 1024 * 1024);
    assert.equal(cfg.deployments[0]?.adapter, 'openai');
    assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.deployments[0]));
  });

  it('reports every problem at once, each with its path', () => {
    const p = problems({
      listeners: [{ port: 99999 }],
      deployments: [
        { name: 'a', url: 'ftp://x' },
        { name: 'a', url: 'h2c://127.0.0.1:1', adapter: 'grpc' },
      ],
      models: [{ name: 'm', deployments: ['missing'] }],
      limits: { maxBodyBytes: 'big' },
      typo: true,
    });
    const paths = p.map((x) => x.path);
    for (const expected of [
      'listeners[0].port',
      'deployments[0].url',
      'deployments[1].adapter',
      'limits.maxBodyBytes',
      '(root)',
    ]) {
      assert.ok(paths.includes(expected), `missing ${expected} in ${paths.join(', ')}`);
    }
    assert.match(
      p.find((x) => x.path === 'deployments[0].url')?.message ?? '',
      /http:\/\/, https:\/\/ or h2c:\/\//,
    );
    assert.match(p.find((x) => x.path === '(root)')?.message ?? '', /typo/);
  });

  it('cross-references: unknown deployment, duplicate names and aliases (reported even beside a missing auth)', () => {
    const p = problems({
      deployments: [
        { name: 'a', url: 'h2c://127.0.0.1:1' },
        { name: 'a', url: 'h2c://127.0.0.1:2' },
      ],
      models: [
        { name: 'm', aliases: ['x'], deployments: ['a'] },
        { name: 'x', deployments: ['b'] },
      ],
    });
    const byPath = new Map(p.map((x) => [x.path, x.message]));
    assert.match(byPath.get('deployments[1].name') ?? '', /duplicate/);
    assert.match(byPath.get('models[1].name') ?? '', /already used by model "m"/);
    assert.match(byPath.get('models[1].deployments[0]') ?? '', /unknown deployment "b"/);
    assert.match(byPath.get('auth') ?? '', /required/);
  });

  it('a value that is not even an object is one clear problem, not a crash', () => {
    for (const bad of [null, 42, 'text', [], { deployments: 'x', models: 3 }])
      assert.ok(problems(bad).length > 0, JSON.stringify(bad));
  });

  it('a YAML file with a syntax error or a missing file is a ConfigError, not an exception', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'deployments: [\n  name: a\n');
    assert.throws(
      () => loadConfigFile(bad),
      (e) => e instanceof ConfigError && e.problems[0]?.path === '(syntax)',
    );
    assert.throws(
      () => loadConfigFile(join(dir, 'nope.yaml')),
      (e) => e instanceof ConfigError && /ENOENT/.test(e.message),
    );
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '');
    assert.throws(
      () => loadConfigFile(empty),
      (e) => e instanceof ConfigError && /empty/.test(e.message),
    );
    const dup = join(dir, 'dup.yaml');
    writeFileSync(dup, 'models: []\nmodels: []\n');
    assert.throws(
      () => loadConfigFile(dup),
      (e) => e instanceof ConfigError,
    );
  });

  it('a good YAML file loads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
    const file = join(dir, 'ghostwire.yaml');
    writeFileSync(
      file,
      [
        'listeners:',
        '  - { host: 127.0.0.1, port: 0 }',
        'deployments:',
        '  - name: vllm-a',
        '    url: http://127.0.0.1:8000',
        '    credential: { type: bearer, token: { env: VLLM_KEY } }',
        'models:',
        '  - name: qwen-coder',
        '    aliases: [copilot-codex]',
        '    deployments: [vllm-a]',
        'auth:',
        '  signingKeys: [{ id: k1, secret: { env: GW_SIGNING_KEY } }]',
        '  verifier:',
        '    type: static',
        `    users: [{ uid: alice, apiKeySha256: "${'ab'.repeat(32)}" }]`,
      ].join('\n'),
    );
    const cfg = loadConfigFile(file);
    assert.deepEqual(cfg.models[0]?.aliases, ['copilot-codex']);
    assert.deepEqual(cfg.deployments[0]?.credential, { type: 'bearer', token: { env: 'VLLM_KEY' } });
    assert.equal(cfg.auth.mode, 'tokens');
    assert.equal(cfg.auth.tokens.lifetimeS, 1800);
    assert.equal(cfg.auth.tokens.refreshInS, 1500);
    assert.equal(cfg.auth.tokens.clockSkewS, 30);
  });

  it('auth is never off by accident: a file without it, or with tokens but no keys or verifier, is refused', () => {
    const { auth: _none, ...noAuth } = minimal;
    const missing = problems(noAuth);
    assert.match(missing.find((p) => p.path === 'auth')?.message ?? '', /required.*mode: none/);
    const empty = new Map(problems({ ...noAuth, auth: {} }).map((p) => [p.path, p.message]));
    assert.match(empty.get('auth.signingKeys') ?? '', /at least one signing key/);
    assert.match(empty.get('auth.verifier') ?? '', /verifier/);
    const bad = new Map(
      problems({
        ...noAuth,
        auth: {
          signingKeys: [
            { id: 'k1', secret: 'x'.repeat(40) },
            { id: 'k1', secret: 'y'.repeat(40) },
          ],
          verifier: { type: 'static', users: [{ uid: 'a', apiKeySha256: 'not-a-hash' }] },
          tokens: { lifetimeS: 600, refreshInS: 600 },
        },
      }).map((p) => [p.path, p.message]),
    );
    assert.match(bad.get('auth.signingKeys[1].id') ?? '', /duplicate key id "k1"/);
    assert.match(bad.get('auth.verifier.users[0].apiKeySha256') ?? '', /sha256/);
    assert.match(bad.get('auth.tokens.refreshInS') ?? '', /less than/);
  });
});
