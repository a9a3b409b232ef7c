import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DemoResult } from '../../src/demo/regions.js';
import {
  demoNamespaces,
  destroyNamespace,
  netnsUnavailableReason,
  pidAlive,
  removeStaleNamespaces,
  run as runCommand,
} from '../../src/demo/netns.js';
import { BIN } from '../helpers/spawn.js';

// The acceptance run, small: `ghostwire demo regions` with 2 regions and 3 s phases, as a
// user would run it. Needs root and network namespaces; elsewhere it skips and says why.

const unavailable = await netnsUnavailableReason();
const SKIP = unavailable === undefined ? false : `needs Linux network namespaces as root: ${unavailable}`;
const TAG_VAR = 'GWDEMO_TEST_TAG';

interface Run {
  child: ChildProcess;
  tag: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts the demo with a tag in its environment, which every process it starts inherits. */
function startDemo(args: string[]): Run {
  const tag = randomBytes(8).toString('hex');
  const child = spawn(process.execPath, [BIN, 'demo', 'regions', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [TAG_VAR]: tag },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, tag, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Pids of live processes carrying the run's tag (the demo's gateways, simulators, agents). */
function tagged(tag: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(`${TAG_VAR}=${tag}\0`))
        pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Whatever the run left behind: namespaces named after its pid, processes with its tag. */
async function leftovers(run: Run): Promise<{ namespaces: string[]; pids: number[] }> {
  return { namespaces: await demoNamespaces(run.child.pid), pids: tagged(run.tag) };
}

/** Stops the run if it is still going and removes anything it left, so a failed test leaves nothing. */
async function forceCleanup(run: Run): Promise<void> {
  if (run.child.exitCode === null && run.child.signalCode === null) {
    run.child.kill('SIGINT');
    const gone = await Promise.race([run.exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!gone) run.child.kill('SIGKILL');
    await run.exited;
  }
  for (const ns of await demoNamespaces(run.child.pid)) await destroyNamespace(ns);
  for (const pid of tagged(run.tag)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

async function waitFor(what: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!what()) {
    if (Date.now() > until) throw new Error('timed out');
    await sleep(50);
  }
}

describe('ghostwire demo regions', { skip: SKIP }, () => {
  it(
    '2 regions: users served in-region; r1 killed → served by r2 within the bound, nothing failed before streaming; r1 back → traffic returns',
    { timeout: 150_000 },
    async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'gwdemo-test-'));
      // The requirement: traffic moves within a second. Measured here (2 shared, noisy cores), the
      // first byte from the next region comes 90-100 ms after the kill and no user waits more than
      // about 250 ms, so the 1 s bound holds with room to spare.
      const MAX_MOVE_MS = 1000;
      const run = startDemo([
        '--regions',
        '2',
        '--duration-s',
        '3',
        '--max-move-ms',
        String(MAX_MOVE_MS),
        '--json',
        '--log',
        join(dir, 'run.json'),
      ]);
      try {
        const code = await Promise.race([run.exited, sleep(120_000).then(() => 'timeout' as const)]);
        assert.notEqual(code, 'timeout', `the demo did not finish in 120 s:\n${run.stderr()}`);
        // It cleaned up after itself, before we do.
        assert.deepEqual(await leftovers(run), { namespaces: [], pids: [] });
        assert.ok(run.stdout().trim().startsWith('{'), `no JSON result (exit ${code}):\n${run.stderr()}`);
        const result = JSON.parse(run.stdout()) as DemoResult;
        assert.match(result.delayMode, /^(netem|relay)$/);

        // The attribution (by completion id) agrees with the simulators' own counters.
        const [steady] = result.phases;
        for (const region of result.regions) {
          const counted = steady?.simulatorRequests[region] ?? 0;
          const attributed = steady?.users.reduce((n, u) => n + (u.servedIn[region] ?? 0), 0) ?? 0;
          assert.ok(
            Math.abs(counted - attributed) <= 0.15 * attributed + 10,
            `steady, ${region}: simulators counted ${counted} requests, users attribute ${attributed} to them`,
          );
        }

        const failed = result.checks.filter((c) => !c.ok).map((c) => `${c.phase}: ${c.what}`);
        assert.deepEqual(
          failed,
          [],
          `expectations that did not hold:\n${failed.join('\n')}\n\n${run.stderr()}`,
        );
        assert.equal(code, 0);
        t.diagnostic(
          `moved after ${result.failover.moveMs} ms, longest wait for a first byte ${result.failover.worstWaitMs} ms`,
        );
        assert.ok((result.failover.moveMs ?? Infinity) <= MAX_MOVE_MS);
        assert.ok((result.failover.worstWaitMs ?? Infinity) <= MAX_MOVE_MS);
        for (const phase of result.phases)
          for (const u of phase.users) assert.equal(u.failedBeforeStreaming, 0, `${phase.name} ${u.region}`);
        assert.ok(result.failover.notReadyMs !== undefined, '/readyz turned 503 while r1 was down');
        assert.ok(result.recovery.returnMs !== undefined && result.recovery.readyMs !== undefined);
      } finally {
        await forceCleanup(run);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('namespaces left by a run that died (and processes still in them) are removed by the next run', async () => {
    const dead = 2 ** 22 + 12345; // above pid_max's default: no live process has it
    const ns = `gwdemo-${dead}-r1`;
    await runCommand('ip', ['netns', 'add', ns]);
    const sleeper = spawn('ip', ['netns', 'exec', ns, 'sleep', '60'], { stdio: 'ignore' });
    const exited = new Promise((r) => sleeper.once('close', r));
    try {
      await sleep(200);
      assert.ok(sleeper.pid !== undefined && pidAlive(sleeper.pid));
      assert.deepEqual(await removeStaleNamespaces(), [ns]);
      assert.deepEqual(await demoNamespaces(dead), []);
      await exited;
      assert.equal(sleeper.signalCode, 'SIGKILL');
    } finally {
      sleeper.kill('SIGKILL');
      await destroyNamespace(ns);
    }
  });

  it(
    'Ctrl-C while it is starting removes every process and namespace it made, exit 130',
    { timeout: 60_000 },
    async () => {
      const run = startDemo(['--regions', '2', '--duration-s', '3']);
      try {
        await waitFor(() => /starting simulators/.test(run.stderr()), 30_000);
        // Mid-start: namespaces exist, processes are coming up.
        await waitFor(() => tagged(run.tag).length >= 2, 10_000);
        assert.equal((await demoNamespaces(run.child.pid)).length, 2);
        run.child.kill('SIGINT');
        const code = await Promise.race([run.exited, sleep(30_000).then(() => 'timeout' as const)]);
        assert.equal(code, 130, run.stderr());
        assert.match(run.stderr(), /interrupted; everything it started is gone/);
        assert.deepEqual(await leftovers(run), { namespaces: [], pids: [] });
      } finally {
        await forceCleanup(run);
      }
    },
  );
});
