import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A throwaway redis-server on 127.0.0.1, no persistence. */
export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** SIGKILLs the server (an outage with no goodbye) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty (nothing is persisted), and waits for PING. */
  restart(): Promise<void>;
  /** Stops it for good and removes its directory. */
  stop(): Promise<void>;
}

const FALLBACK_BINARY = '/usr/bin/redis-server';
const READY_TIMEOUT_MS = 5000;

// Servers still running. If the test process dies first (a failed assertion in before(), the
// runner's timeout sending SIGTERM) they would outlive it, so kill them on the way out.
const running = new Set<ChildProcess>();
let hooked = false;
function reapOnExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = (): void => running.forEach((c) => c.kill('SIGKILL'));
  process.once('exit', killAll);
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.once(signal, () => {
      killAll();
      // Then die of the same signal, as if we had not been listening.
      process.kill(process.pid, signal);
    });
}

/** Finds redis-server on PATH or at /usr/bin; throws (never skips: CI installs it) when absent. */
export function findRedisServer(): string {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const candidate of [...dirs.map((d) => join(d, 'redis-server')), FALLBACK_BINARY]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next one.
    }
  }
  throw new Error(
    'redis-server not found on PATH or at /usr/bin/redis-server. These tests need a real Redis: ' +
      'install it with `apt-get install -y redis-server` (.ci/run does this in CI).',
  );
}

/** Starts redis-server on a free port and resolves once it answers PING. */
export async function startRedis(): Promise<RedisServer> {
  const binary = findRedisServer();
  const port = await freePort();
  // Its own working directory, so nothing it might write lands in the repo.
  const dir = mkdtempSync(join(tmpdir(), 'ghostwire-redis-'));
  let child = await launch(binary, port, dir);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: () => terminate(child, 'SIGKILL'),
    restart: async () => {
      child = await launch(binary, port, dir);
    },
    stop: async () => {
      await terminate(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// redis-server cannot listen on port 0, so borrow a free port from the kernel and hand it over.
// Another process could grab it in between; on a test machine that is rare enough.
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function launch(binary: string, port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  reapOnExit();
  running.add(child);
  let output = '';
  const collect = (d: Buffer): void => {
    // Kept only for the error message if it fails to start.
    if (output.length < 8192) output += d.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    running.delete(child);
    exited = `exited (code ${code}, signal ${signal})`;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`redis-server on port ${port} ${exited}:\n${output}`);
    if (await answersPing(port)) return child;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  throw new Error(
    `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${output}`,
  );
}

/** Speaks just enough RESP to ask PING, so readiness does not depend on the client under test. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}
