import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';

/** A spawned service that said `listening on http://…`. */
export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** The last lines it wrote to stdout/stderr, for error messages. */
  tail(): string;
}

const children = new Set<ChildProcess>();

/** Every child still running is SIGKILLed when this process exits, however it exits. */
function killAllNow(): void {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}: stopping every process it started\n`);
    killAllNow();
    process.exit(130);
  });
}

/** Options of spawnProcess / spawnNode. */
export interface SpawnOptions {
  stdin?: boolean;
  onLine?: (line: string) => void;
  /**
   * Raise the child's open-file limit to this before it starts (`ulimit -n` in a shell that then
   * execs it, so the pid is the program's own). Node has no setrlimit; the connection-scale
   * benchmark needs thousands of sockets per process.
   */
  fdLimit?: number;
}

/** Spawns `node args…` and tracks it so it is always killed; its output is drained into a ring of lines. */
export function spawnNode(
  name: string,
  args: readonly string[],
  options: SpawnOptions = {},
): { child: ChildProcess; tail: () => string } {
  return spawnProcess(name, process.execPath, args, options);
}

/** Spawns any program like spawnNode does (tracked, always killed, output drained into a ring of lines). */
export function spawnProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): { child: ChildProcess; tail: () => string } {
  const [file, argv] =
    options.fdLimit === undefined
      ? [command, args]
      : ['/bin/sh', ['-c', `ulimit -n ${Math.floor(options.fdLimit)} && exec "$0" "$@"`, command, ...args]];
  const child = spawn(file, argv, {
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const lines: string[] = [];
  const keep = (line: string): void => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  // Output is always read, so a chatty child never blocks on a full pipe.
  for (const [stream, isStdout] of [
    [child.stdout, true],
    [child.stderr, false],
  ] as const) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        keep(`[${name}] ${line}`);
        if (isStdout) options.onLine?.(line);
      }
    });
  }
  return { child, tail: () => lines.join('\n') };
}

/**
 * Binds every thread of a process to the given CPUs (`taskset -a -p -c`). The benchmark pins
 * the proxy under test to a core of its own and the simulator and load client to the other, so
 * a proxy's latency is its own and not the simulator's CPU contention. Returns false if taskset
 * is missing or refused.
 */
export function pinToCpus(pid: number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The hard limit on open files this process may raise a child's limit to (`ulimit -Hn`). */
export function fdHardLimit(): number {
  try {
    const out = execFileSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out) || 1024;
  } catch {
    return 1024;
  }
}

/** Starts a long-running Node service and resolves once it prints its URL. */
export async function startService(
  name: string,
  args: readonly string[],
  options: { timeoutMs?: number; onLine?: (line: string) => void; fdLimit?: number } = {},
): Promise<Service> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  let resolveUrl: (url: string) => void = () => {};
  const urlSeen = new Promise<string>((resolve) => (resolveUrl = resolve));
  const { child, tail } = spawnNode(name, args, {
    onLine: (line) => {
      const m = /listening on (https?:\/\/[^\s]+)/.exec(line);
      if (m?.[1] !== undefined) resolveUrl(m[1]);
      options.onLine?.(line);
    },
    ...(options.fdLimit === undefined ? {} : { fdLimit: options.fdLimit }),
  });
  let timer: NodeJS.Timeout | undefined;
  const failure = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${name} did not print "listening on" within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.once('exit', (code, signal) =>
      reject(new Error(`${name} exited (${signal ?? code}) before listening`)),
    );
    child.once('error', reject);
  });
  try {
    const url = await Promise.race([urlSeen, failure]);
    if (child.pid === undefined) throw new Error(`${name} has no pid`);
    return { name, child, pid: child.pid, url: url.replace(/\/+$/, ''), tail };
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail()}`, { cause: err });
  } finally {
    clearTimeout(timer);
    failure.catch(() => {}); // the loser of the race must not become an unhandled rejection
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stop(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** SIGINT, waiting up to `graceMs` for a clean exit (needed for --cpu-prof to write its file). */
export async function interruptAndWait(child: ChildProcess, graceMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  const exited = once(child, 'exit');
  child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
  const clean = await Promise.race([exited.then(() => true), timedOut]);
  clearTimeout(timer);
  if (!clean) await stop(child, 1000);
  return clean;
}
