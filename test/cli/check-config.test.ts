// Pins down `ghostwire check-config` as a real process (issue 7, item 1): a valid config exits 0,
// an invalid one exits 2 with every problem and its path, and a sample request (flags or a JSON
// file) shows which rules fire and what they make of the request, without sending anything.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/spawn.js';

const CONFIG = `
listeners: [{host: 127.0.0.1, port: 0}]
auth: {mode: none}
deployments:
  - {name: big-gpu, url: "h2c://127.0.0.1:1"}
  - {name: small-gpu, url: "h2c://127.0.0.1:2"}
models:
  - {name: default, aliases: [copilot-codex], deployments: [big-gpu]}
  - {name: small, deployments: [small-gpu]}
policy:
  rules:
    - name: too-old
      match: {plugin: "copilot <1.0.0"}
      reject: {status: 426, message: "Update your Copilot plugin."}
    - name: old-plugin-tokens
      match: {plugin: "copilot <1.200.0"}
      clamp: {max_tokens: {max: 64}}
      addStop: "\\n"
    - name: python-small
      match: {language: python}
      routeTo: small
    - name: free-tier
      match: {sku: free}
      set: {n: 1}
`;

const BAD = `
deployments: [{name: a, url: "h2c://127.0.0.1:1"}]
models: [{name: default, deployments: [a]}]
auth: {mode: none}
policy:
  rules:
    - name: clamp
      clamp: {max_tokens: {min: 100, max: 10}, temperature: {max: hot}}
    - name: range
      match: {plugin: "copilot <1.x.2"}
      set: {max_tokens: 10}
    - name: route
      routeTo: nowhere
`;

interface Sample {
  fired: string[];
  protocol: string;
  rejected?: { status: number; code: string; message: string };
  model?: { resolved?: string; deployments: string[] };
  changed?: Record<string, { from: unknown; to: unknown }>;
  body?: Record<string, unknown>;
}

describe('ghostwire check-config', () => {
  let dir: string;
  let good: string;
  let bad: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gw-check-config-'));
    good = path.join(dir, 'good.yaml');
    bad = path.join(dir, 'bad.yaml');
    writeFileSync(good, CONFIG);
    writeFileSync(bad, BAD);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const sample = async (args: string[]): Promise<Sample> => {
    const r = await runCli(['check-config', '--config', good, '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { sample: Sample }).sample;
  };

  it('a valid config: exit 0 and a summary', async () => {
    const r = await runCli(['check-config', '--config', good]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid \(2 deployment\(s\), 2 model\(s\), 4 rewrite rule\(s\)\)/);
  });

  it('an invalid config: exit 2 and every problem with its path', async () => {
    const r = await runCli(['check-config', '--config', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /policy\.rules\[0\]\.clamp\.max_tokens: min must not be above max/);
    assert.match(r.stderr, /policy\.rules\[0\]\.clamp\.temperature\.max: .*expected number/);
    assert.match(r.stderr, /policy\.rules\[1\]\.match\.plugin: .*wildcard must not be followed by a number/);
    assert.match(r.stderr, /policy\.rules\[2\]\.routeTo: unknown model "nowhere"/);
    const json = await runCli(['check-config', '--config', bad, '--json']);
    assert.equal(json.code, 2);
    const out = JSON.parse(json.stdout) as { valid: boolean; problems: { path: string }[] };
    assert.equal(out.valid, false);
    assert.ok(out.problems.length >= 4);
    const missing = await runCli(['check-config', '--config', path.join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the file \(ENOENT\)/);
  });

  it('a sample request: the rules that fire, in order, the model and the rewritten body', async () => {
    const s = await sample([
      '-H',
      'Editor-Plugin-Version: copilot/1.150.0',
      '--body',
      JSON.stringify({ prompt: 'def f(', max_tokens: 500, stop: ['\n\n'], extra: { language: 'python' } }),
    ]);
    assert.equal(s.protocol, 'copilot');
    assert.deepEqual(s.fired, ['old-plugin-tokens', 'python-small']);
    assert.equal(s.model?.resolved, 'small');
    assert.deepEqual(s.model?.deployments, ['small-gpu']);
    assert.deepEqual(s.changed?.max_tokens, { from: 500, to: 64 });
    assert.equal(s.body?.max_tokens, 64);
    assert.deepEqual(s.body?.stop, ['\n\n', '\n']);
  });

  it('a too-old plugin: the rejection the user would see', async () => {
    const s = await sample(['-H', 'editor-plugin-version: copilot/0.9.0']);
    assert.deepEqual(s.fired, ['too-old']);
    assert.equal(s.rejected?.status, 426);
    assert.equal(s.rejected?.code, 'GW_POLICY_REJECTED');
    assert.match(s.rejected?.message ?? '', /Update your Copilot plugin\.$/);
    const text = await runCli([
      'check-config',
      '--config',
      good,
      '-H',
      'editor-plugin-version: copilot/0.9.0',
    ]);
    assert.match(
      text.stdout,
      /rules fired: too-old\nrejected: 426 GW_POLICY_REJECTED: .*Update your Copilot plugin\./,
    );
  });

  it('a request file (path, headers, body, user); flags override it; no rule: nothing changes', async () => {
    const file = path.join(dir, 'req.json');
    writeFileSync(
      file,
      JSON.stringify({
        path: '/v1/completions',
        headers: { 'Editor-Plugin-Version': 'copilot/1.250.0' },
        body: { model: 'copilot-codex', prompt: 'x', max_tokens: 500, n: 3 },
        user: { uid: 'u1', sku: 'free' },
      }),
    );
    const s = await sample(['--request', file]);
    assert.equal(s.protocol, 'openai');
    assert.deepEqual(s.fired, ['free-tier']);
    assert.equal(s.body?.n, 1);
    assert.equal(s.model?.resolved, 'default');
    const paid = await sample(['--request', file, '--sku', 'business']);
    assert.deepEqual(paid.fired, []);
    assert.deepEqual(paid.changed, {});
    assert.equal(paid.body?.n, 3);
  });

  it('a sample the gateway would refuse before its rules: exit 1 with the error; a bad flag: exit 2', async () => {
    const r = await runCli(['check-config', '--config', good, '--body', '{"max_tokens":5}']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused before rules run: 400 GW_/);
    const notJson = await runCli(['check-config', '--config', good, '--body', '{']);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /--body is not JSON/);
    const route = await runCli(['check-config', '--config', good, '--path', '/v1/models']);
    assert.equal(route.code, 2);
    assert.match(route.stderr, /is not a completion route/);
    const noConfig = await runCli(['check-config']);
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /--config FILE is required/);
  });

  it('is listed in the main help and has its own', async () => {
    const main = await runCli(['--help']);
    assert.match(main.stdout, /check-config/);
    const own = await runCli(['check-config', '--help']);
    assert.equal(own.code, 0);
    assert.match(own.stdout, /--request FILE/);
  });
});
