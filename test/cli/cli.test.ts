import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { copilotBody, h1request, h2connect, h2request, sseEvents } from '../helpers/clients.js';
import { runCli, startCli } from '../helpers/spawn.js';

const exec = promisify(execFile);
const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

describe('command-line contract', () => {
  it('--help on every command exits 0; no command prints help and exits 2', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['simulate', '-h']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /Usage: ghostwire/);
    }
    const none = await runCli([]);
    assert.equal(none.code, 2);
  });

  it('unknown flags, bad values and unknown commands exit 2 with a hint and no stack trace', async () => {
    for (const args of [
      ['serve', '--bogus'],
      ['simulate', '--slots', 'many'],
      ['simulate', '--prefix-cache', '-1'],
      ['serve', '--port', '70000'],
      ['frobnicate'],
      ['serve', '--tls-cert', 'x'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /ghostwire/);
      assert.doesNotMatch(r.stderr, STACK_LINE);
    }
  });

  it('a bad config file stops start-up with exit 2, every problem with its path, no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-cli-'));
    const file = join(dir, 'ghostwire.yaml');
    writeFileSync(
      file,
      'deployments:\n  - name: a\n    url: gopher://x\nmodels:\n  - name: m\n    deployments: [b]\n',
    );
    const r = await runCli(['serve', '--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /deployments\[0\]\.url/);
    assert.match(r.stderr, /models\[0\]\.deployments\[0\]/);
    assert.doesNotMatch(r.stderr, STACK_LINE);
    const missing = await runCli(['serve', '--config', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.doesNotMatch(missing.stderr, STACK_LINE);
  });

  it('serve with no config runs the embedded default; the printed token + curl commands stream a completion; SIGTERM exits 0', async () => {
    const gw = await startCli(['serve', '--port', '0']);
    try {
      assert.match(gw.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      await new Promise((r) => setTimeout(r, 50)); // let the rest of the banner arrive
      const out = gw.stdout();
      assert.match(out, /embedded model simulator/);
      // The dev key is random per start and printed once; the commands use it literally.
      assert.match(out, /dev user "dev", API key gw_[A-Za-z0-9_-]{20,}/);
      const script = out.slice(out.indexOf('  TOKEN=$('));
      const command = script.slice(0, script.indexOf('\n\n'));
      assert.match(command, /--http2-prior-knowledge/);
      const { stdout } = await exec('bash', ['-c', command], { timeout: 10_000 });
      const events = sseEvents(stdout);
      assert.ok(events.length >= 3, stdout);
      assert.equal(events.at(-1), '[DONE]');
    } finally {
      assert.equal(await gw.stop('SIGTERM'), 0);
    }
  });

  it('simulate prints its URL and serves /stats; serve --upstream routes any model name to it', async () => {
    const sim = await startCli([
      'simulate',
      '--port',
      '0',
      '--ttft-ms',
      '1',
      '--token-ms',
      '1',
      '--max-tokens',
      '5',
    ]);
    const gw = await startCli(['serve', '--port', '0', '--upstream', sim.url.replace('http://', 'h2c://')], {
      GHOSTWIRE_DEV_KEY: 'gw_cli_test_key',
    });
    try {
      assert.doesNotMatch(
        gw.stdout(),
        /gw_cli_test_key/,
        'a key from the environment is named, never printed',
      );
      const session = await h2connect(gw.url);
      const denied = await h2request(session, '/v1/engines/any-engine-name/completions', copilotBody());
      assert.equal(denied.status, 401);
      const exchange = await h2request(
        session,
        '/copilot_internal/v2/token',
        undefined,
        {
          authorization: 'token gw_cli_test_key',
        },
        'GET',
      );
      assert.equal(exchange.status, 200, exchange.body);
      const { token } = JSON.parse(exchange.body) as { token: string };
      const res = await h2request(session, '/v1/engines/any-engine-name/completions', copilotBody(), {
        authorization: `Bearer ${token}`,
      });
      session.close();
      assert.equal(res.status, 200, res.body);
      assert.equal(sseEvents(res.body).at(-1), '[DONE]');
      const stats = await h1request(sim.url, '/stats', undefined, {}, 'GET');
      assert.equal((JSON.parse(stats.body) as { completed: number }).completed, 1);
    } finally {
      assert.equal(await gw.stop(), 0);
      assert.equal(await sim.stop(), 0);
    }
  });

  it('a port already in use is a clear error with exit 1', async () => {
    const first = await startCli(['simulate', '--port', '0']);
    try {
      const port = new URL(first.url).port;
      for (const args of [
        ['serve', '--port', port, '--upstream', 'h2c://127.0.0.1:1'],
        ['simulate', '--port', port],
      ]) {
        const r = await runCli(args);
        assert.equal(r.code, 1, args[0]);
        assert.match(r.stderr, /EADDRINUSE/);
        assert.match(r.stderr, /--port/);
        assert.doesNotMatch(r.stderr, STACK_LINE);
        assert.doesNotMatch(r.stderr, /internal error/);
      }
    } finally {
      await first.stop();
    }
  });
});
