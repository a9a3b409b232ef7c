import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { DelayMode, DemoPlan } from './topology.js';
import { NAMESPACE_PREFIX, namespaceName, namespaceOwner } from './topology.js';

/**
 * The machine side of the topology: network namespaces, the veth pairs between them, addresses,
 * routes and (where the kernel has it) netem. Everything goes through iproute2's `ip` and `tc`.
 * Nothing is created in the root namespace: veth pairs are created straight into the regions.
 */

const SEARCH = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** The absolute path of a system binary (PATH first, then the sbin directories), or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter((d) => d.length > 0), ...SEARCH];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A failed command, with what it printed on stderr. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
  ) {
    super(`${command}: ${stderr.trim() || 'failed'}`);
    this.name = 'CommandError';
  }
}

/** Runs `name args...` to completion (bounded) and resolves with its stdout. */
export function run(name: string, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  const bin = findBinary(name);
  const command = `${name} ${args.join(' ')}`;
  if (bin === undefined) return Promise.reject(new CommandError(command, `${name}: command not found`));
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new CommandError(command, stderr || err.message));
    });
  });
}

/**
 * Why this machine cannot build the demo's namespaces, or undefined when it can. Checked by
 * doing it once: a throwaway namespace with a veth pair in it.
 */
export async function netnsUnavailableReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  const uid = process.getuid?.();
  if (uid !== 0) return `creating network namespaces needs root (running as uid ${uid ?? '?'})`;
  if (findBinary('ip') === undefined)
    return "iproute2's `ip` is not installed (Debian: apt-get install iproute2)";
  const probe = namespaceName(process.pid, 'probe');
  try {
    await run('ip', ['netns', 'add', probe]);
  } catch (err) {
    return `\`ip netns add\` failed: ${message(err)}`;
  }
  try {
    await run('ip', ['-n', probe, 'link', 'add', 'name', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);
    return undefined;
  } catch (err) {
    return `creating a veth pair failed: ${message(err)}`;
  } finally {
    await run('ip', ['netns', 'del', probe]).catch(() => undefined);
  }
}

/** Names of every network namespace on the machine. */
export async function listNamespaces(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.length > 0);
}

/** Demo namespaces left behind by `pid` (any pid when undefined). */
export async function demoNamespaces(pid?: number): Promise<string[]> {
  return (await listNamespaces()).filter(
    (name) => name.startsWith(NAMESPACE_PREFIX) && (pid === undefined || namespaceOwner(name) === pid),
  );
}

/** True when a process with this pid exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process still inside the namespace (SIGKILL), then deletes it. Never throws. */
export async function destroyNamespace(name: string): Promise<void> {
  const pids = await run('ip', ['netns', 'pids', name]).catch(() => '');
  for (const pid of pids.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await run('ip', ['netns', 'del', name]).catch(() => undefined);
}

/** Deletes demo namespaces whose owning process is dead (a run that was SIGKILLed). Returns their names. */
export async function removeStaleNamespaces(): Promise<string[]> {
  const stale = (await demoNamespaces()).filter((name) => {
    const owner = namespaceOwner(name);
    return owner !== undefined && owner !== process.pid && !pidAlive(owner);
  });
  for (const name of stale) await destroyNamespace(name);
  return stale;
}

export interface BuiltTopology {
  mode: DelayMode;
  /** Why netem was not used, in relay mode. */
  netemUnavailable?: string;
}

/**
 * Creates the plan's namespaces: loopback up with the region's address on it, one veth pair per
 * pair of regions (each end named `to-<peer>`), a host route to each peer's address over its veth.
 * Then tries netem on every veth end (half the round trip each way); if the kernel refuses, the
 * delays are left to the userspace delay links. The caller deletes the namespaces (destroyNamespace).
 */
export async function buildTopology(plan: DemoPlan): Promise<BuiltTopology> {
  for (const region of plan.regions) {
    await run('ip', ['netns', 'add', region.namespace]);
    await run('ip', ['-n', region.namespace, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', region.namespace, 'addr', 'add', `${region.address}/32`, 'dev', 'lo']);
  }
  const byName = new Map(plan.regions.map((r) => [r.name, r]));
  for (const link of plan.links) {
    const a = byName.get(link.a);
    const b = byName.get(link.b);
    if (a === undefined || b === undefined) throw new RangeError(`link ${link.a}-${link.b}: unknown region`);
    await run('ip', [
      '-n',
      a.namespace,
      'link',
      'add',
      'name',
      `to-${b.name}`,
      'type',
      'veth',
      'peer',
      'name',
      `to-${a.name}`,
      'netns',
      b.namespace,
    ]);
    for (const [self, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      const dev = `to-${peer.name}`;
      await run('ip', ['-n', self.namespace, 'link', 'set', dev, 'up']);
      await run('ip', [
        '-n',
        self.namespace,
        'route',
        'add',
        `${peer.address}/32`,
        'dev',
        dev,
        'src',
        self.address,
      ]);
    }
  }
  const netem = await tryNetem(plan);
  return netem === undefined ? { mode: 'netem' } : { mode: 'relay', netemUnavailable: netem };
}

/** Adds netem delay to every veth end; on the first refusal removes what was added and says why. */
async function tryNetem(plan: DemoPlan): Promise<string | undefined> {
  if (findBinary('tc') === undefined) return '`tc` is not installed';
  const added: [string, string][] = [];
  const byName = new Map(plan.regions.map((r) => [r.name, r]));
  try {
    for (const link of plan.links) {
      for (const [self, peer] of [
        [link.a, link.b],
        [link.b, link.a],
      ] as const) {
        const ns = byName.get(self)?.namespace ?? '';
        const dev = `to-${peer}`;
        const oneWay = `${link.rttMs / 2}ms`;
        await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', oneWay]);
        added.push([ns, dev]);
      }
    }
    return undefined;
  } catch (err) {
    for (const [ns, dev] of added)
      await run('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root']).catch(() => undefined);
    return err instanceof CommandError ? err.stderr.trim() || err.message : message(err);
  }
}

function message(err: unknown): string {
  if (err instanceof CommandError) return err.stderr.trim() || err.message;
  return err instanceof Error ? err.message : String(err);
}
