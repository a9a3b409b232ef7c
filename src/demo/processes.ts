import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Child processes of the demo: started, waited for until they say they are ready, stopped, and
 * always reaped. Every process is tracked in a ProcessSet whose stopAll() runs on every exit path.
 */

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The URL from the `listening on <url>` line (empty for processes that print none). */
  readonly url: string;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** The last lines it wrote to stderr, for error messages. */
  stderrTail(): string;
}

export interface StartOptions {
  name: string;
  command: string;
  args: readonly string[];
  /** A line on stdout that means ready; group 1, when present, is the URL. */
  ready: RegExp;
  timeoutMs: number;
  /** Its stdout after the ready line (the agent protocol); ignored when absent. */
  onStdout?: (chunk: Buffer) => void;
  /** Own process group, so a terminal's Ctrl-C reaches only the orchestrator, which stops it in order. */
  detached?: boolean;
}

const TAIL_CHARS = 2000;

/** Starts a process and resolves once it printed its ready line; rejects (and kills it) otherwise. */
export function startProcess(options: StartOptions): Promise<ManagedProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.command, options.args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    });
    let stderr = '';
    let stdout = '';
    let ready = false;
    const exited = new Promise<number | string>((r) =>
      child.once('close', (code, signal) => r(code ?? signal ?? -1)),
    );
    const fail = (why: string): void => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      const tail = stderr.trim().split('\n').slice(-5).join('\n  ');
      reject(new Error(`${options.name}: ${why}${tail.length > 0 ? `\n  ${tail}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not ready within ${options.timeoutMs} ms`), options.timeoutMs);
    child.once('error', (err) => fail(err.message));
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-TAIL_CHARS);
    });
    child.stdin?.on('error', () => undefined); // a dead child's stdin: seen through 'close'
    child.stdout?.on('data', (d: Buffer) => {
      if (ready) {
        options.onStdout?.(d);
        return;
      }
      stdout += d.toString('utf8');
      const nl = stdout.search(options.ready);
      if (nl < 0) {
        stdout = stdout.slice(-TAIL_CHARS);
        return;
      }
      const match = options.ready.exec(stdout);
      const lineEnd = stdout.indexOf('\n', nl);
      ready = true;
      clearTimeout(timer);
      const pid = child.pid;
      if (pid === undefined) return fail('no pid');
      resolve({
        name: options.name,
        pid,
        child,
        url: match?.[1] ?? '',
        exited,
        stderrTail: () => stderr,
      });
      // Whatever followed the ready line belongs to the protocol.
      if (lineEnd >= 0 && lineEnd + 1 < stdout.length)
        options.onStdout?.(Buffer.from(stdout.slice(lineEnd + 1), 'utf8'));
    });
    child.once('close', (code, signal) => fail(`exited (${code ?? signal}) before it was ready`));
  });
}

/** True while the process has not exited. */
export function running(p: ManagedProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL; resolves once it is gone. */
export async function stopProcess(p: ManagedProcess, graceMs: number): Promise<void> {
  if (!running(p)) return;
  p.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      resolve();
    }, graceMs);
  });
  await Promise.race([p.exited, killed]);
  clearTimeout(timer);
  await p.exited;
}

/** Every process started for the demo, so one call stops them all. */
export class ProcessSet {
  readonly #all: ManagedProcess[] = [];

  add(p: ManagedProcess): ManagedProcess {
    this.#all.push(p);
    void p.exited.then(() => {
      const i = this.#all.indexOf(p);
      if (i >= 0) this.#all.splice(i, 1);
    });
    return p;
  }

  get size(): number {
    return this.#all.length;
  }

  /** Stops every process still running, all at once; never throws. */
  async stopAll(graceMs: number): Promise<void> {
    await Promise.all(this.#all.map((p) => stopProcess(p, graceMs).catch(() => undefined)));
  }
}
