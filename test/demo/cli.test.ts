import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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

  it('without root it creates nothing, says why and exits 1', async () => {
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
