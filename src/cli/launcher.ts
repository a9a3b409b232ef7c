import { spawn } from 'node:child_process';
import { main } from './main.js';

/** V8 flags `ghostwire serve` runs with unless the operator chose otherwise (GHOSTWIRE_GC). */
export const SERVE_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** Set in the gateway process a launcher started, so it knows it has a supervisor. */
export const SUPERVISED_ENV = 'GHOSTWIRE_SUPERVISED';

/**
 * The `ghostwire` executable. `serve` needs V8 flags that cannot be set from inside a running
 * process (V8 aborts if GC flags change after start-up) nor through NODE_OPTIONS, so when they
 * are missing the launcher starts the gateway as a child process with them and supervises it:
 * output is shared, signals are passed on, the child's exit code is the launcher's, and the
 * child drains and exits if the launcher dies. `GHOSTWIRE_GC=parallel` keeps V8's defaults and
 * runs in-process. Every other command runs in-process.
 *
 * Why `--single-threaded-gc`: V8 otherwise runs garbage collection with helper threads (four by
 * default) that compete with the gateway's own thread when it has one core to itself (a pinned
 * process, a container with a CPU quota, one worker per core). Measured with the proxy on one
 * core at 2000 req/s: TTFB p99 ~5.5 ms instead of 7.5–9.5 ms, at the same CPU per request; with
 * both cores shared it was as good or better (docs/benchmarks.md).
 */
export async function launch(argv: string[]): Promise<number> {
  if (argv[0] !== 'serve' || !needsFlags()) return main(argv);
  return supervise(argv);
}

function needsFlags(): boolean {
  if (process.env.GHOSTWIRE_GC === 'parallel' || process.env[SUPERVISED_ENV] === '1') return false;
  return SERVE_NODE_FLAGS.some((f) => !process.execArgv.includes(f));
}

/** Runs `ghostwire <argv>` in a child Node process with SERVE_NODE_FLAGS; resolves with its exit code. */
function supervise(argv: string[]): Promise<number> {
  const script = process.argv[1];
  if (script === undefined) return main(argv);
  const child = spawn(
    process.execPath,
    [...process.execArgv, ...SERVE_NODE_FLAGS.filter((f) => !process.execArgv.includes(f)), script, ...argv],
    // The IPC channel is the child's lifeline: it closes when this process dies, however it dies.
    { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], env: { ...process.env, [SUPERVISED_ENV]: '1' } },
  );
  // A terminal's Ctrl-C reaches both processes; the child ignores SIGINT and drains on the SIGTERM
  // passed on here, so one Ctrl-C is one graceful stop and a second one an immediate exit.
  const pass = (signal: NodeJS.Signals): void => {
    child.kill(signal === 'SIGINT' ? 'SIGTERM' : signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2'];
  for (const s of signals) process.on(s, pass);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`ghostwire: cannot start the gateway process: ${err.message}\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      for (const s of signals) process.removeListener(s, pass);
      resolve(code ?? (signal === null ? 1 : 128 + signalNumber(signal)));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 1;
}
