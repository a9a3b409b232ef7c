// Pins down the `ghostwire serve` launcher (src/cli/launcher.ts): the gateway runs in a child with
// --single-threaded-gc, signals and exit codes pass through, one Ctrl-C is one graceful drain, and
// the child never outlives its launcher.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { h2connect, h2request, sleep } from '../helpers/clients.js';
import { runCli, startCli } from '../helpers/spawn.js';

const linux = process.platform === 'linux';

/** Child pids of `pid` with their command lines (Linux /proc). */
function childrenOf(pid: number): { pid: number; cmdline: string[] }[] {
  const out: { pid: number; cmdline: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').filter(Boolean);
      out.push({ pid: Number(entry), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(25);
  }
  return check();
}

describe('ghostwire serve launcher', { skip: linux ? false : 'needs /proc (Linux)' }, () => {
  it('runs the gateway in one child with --single-threaded-gc, and serves through it', async () => {
    const gw = await startCli(['serve', '--port', '0', '--no-auth']);
    try {
      const pid = gw.child.pid as number;
      const kids = childrenOf(pid).filter((k) => k.cmdline.some((a) => a.endsWith('ghostwire.js')));
      assert.equal(kids.length, 1, JSON.stringify(kids));
      assert.ok(kids[0]?.cmdline.includes('--single-threaded-gc'), kids[0]?.cmdline.join(' '));
      const session = await h2connect(gw.url);
      const res = await h2request(
        session,
        '/v1/engines/default/completions',
        '{"prompt":"x","max_tokens":2}',
      );
      session.close();
      assert.equal(res.status, 200);
    } finally {
      await gw.stop();
    }
  });

  it('SIGINT to the launcher drains the gateway gracefully and exits 0', async () => {
    const gw = await startCli(['serve', '--port', '0', '--no-auth']);
    const code = await gw.stop('SIGINT');
    assert.equal(code, 0, gw.stderr());
    assert.match(gw.stderr(), /draining/);
  });

  it('the gateway drains and exits when its launcher is killed outright', async () => {
    const gw = await startCli(['serve', '--port', '0', '--no-auth']);
    const pid = gw.child.pid as number;
    const kid = childrenOf(pid)[0]?.pid;
    assert.ok(kid !== undefined);
    gw.child.kill('SIGKILL');
    assert.ok(await until(() => !alive(kid), 5000), 'the gateway process outlived its launcher');
  });

  it('GHOSTWIRE_GC=parallel runs in-process; exit codes pass through the launcher', async () => {
    const gw = await startCli(['serve', '--port', '0', '--no-auth'], { GHOSTWIRE_GC: 'parallel' });
    try {
      assert.deepEqual(
        childrenOf(gw.child.pid as number).filter((k) => k.cmdline.some((a) => a.endsWith('ghostwire.js'))),
        [],
      );
    } finally {
      await gw.stop();
    }
    const usage = await runCli(['serve', '--port', 'nope']);
    assert.equal(usage.code, 2);
  });
});
