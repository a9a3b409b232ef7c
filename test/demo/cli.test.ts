import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { BIN, runCli } from '../helpers/spawn.js';

// The command-line contract of `ghostwire demo`: help, usage errors, and where it cannot run.

describe('ghostwire demo: command line', () => {
  it('--help exits 0; a missing or unknown demo and bad flags exit 2 with a hint', async () => {
    const help = await runCli(['demo', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: ghostwire demo regions/);
    assert.match((await runCli(['--help'])).stdout, /demo {8}demo regions/);
    for (const args of [
      ['demo'],
      ['demo', 'galaxies'],
      ['demo', 'regions', '--regions', '5'],
      ['demo', 'regions', '--bogus'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Run 'ghostwire demo --help' for usage/);
    }
  });

  // A Node binary under a private directory (e.g. fetched by npx into /root/.npm) cannot be run as nobody.
  const nobodyCanRun = (file: string): boolean => {
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) return false;
      if (dir === dirname(dir)) return (statSync(file).mode & 0o001) !== 0;
    }
  };
  const skipNobody =
    process.getuid?.() === 0 && !nobodyCanRun(process.execPath)
      ? `${process.execPath} is not reachable for user nobody`
      : false;

  it('without root it creates nothing, says why and exits 1', { skip: skipNobody }, async () => {
    // As root, run it as nobody; otherwise we are not root already.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const child = spawn(process.execPath, [BIN, 'demo', 'regions'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...asNobody,
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /^ghostwire demo regions: cannot run here: .*(root|Linux)/m);
  });
});
