// `ghostwire serve --workers N` as a real process tree (launcher → primary → N node:cluster
// workers) on real sockets: one port, connections spread over the workers, a killed worker
// replaced while the other keeps serving, one set of signing keys for all, SIGHUP reloading
// every worker, SIGTERM draining a stream in flight and leaving no process behind.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, eventually, h2connect, h2request } from '../helpers/clients.js';
import { runCli, startCli, type Running } from '../helpers/spawn.js';

const PATH = '/v1/engines/default/completions';

/** The worker pids `serve --workers N` prints (the line after "listening on", maybe a moment later). */
async function workerPids(gw: Running): Promise<number[]> {
  const line = /workers: \d+ processes share the port \(pids ([\d, ]+)\)/;
  await eventually(() => line.test(gw.stdout()), 5000, `the workers line in:\n${gw.stdout()}`);
  return (line.exec(gw.stdout())?.[1] ?? '').split(', ').map(Number);
}

/** The pid of the worker that serves a fresh connection (GET /healthz on it). */
async function pidOfFreshConnection(url: string): Promise<number> {
  const session = await h2connect(url);
  try {
    const r = await bounded(h2request(session, '/healthz', undefined, {}, 'GET'), 'GET /healthz');
    return (JSON.parse(r.body) as { pid: number }).pid;
  } finally {
    session.destroy();
  }
}

/** One completion on a fresh connection; its status and whether the stream ended whole. */
async function completionOnFreshConnection(
  url: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const session = await h2connect(url);
  try {
    const r = await bounded(
      h2request(session, PATH, copilotBody({ max_tokens: 4, stream: true }), headers),
      'a completion',
    );
    return r.status === 200 && r.body.includes('data: [DONE]') ? 'ok' : `${r.status} ${r.body.slice(0, 100)}`;
  } finally {
    session.destroy();
  }
}

/** A request that does not answer in 5 s fails the test instead of hanging it. */
function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within 5 s`)), 5000);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('serve --workers', () => {
  let a: Simulator;
  let b: Simulator;
  let gw: Running | undefined;
  /** Every gateway started, stopped at the end whatever failed. */
  const started: Running[] = [];
  const start = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Running> => {
    const r = await startCli(args, env);
    started.push(r);
    return r;
  };
  before(async () => {
    a = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 8 });
    b = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 8 });
  });
  after(async () => {
    await Promise.all(started.filter((r) => r.child.exitCode === null).map((r) => r.stop()));
    await Promise.all([a.close(), b.close()]);
  });

  it('shares one port; connections land on both workers; a killed worker is replaced while the other serves', async () => {
    gw = await start([
      'serve',
      '--workers',
      '2',
      '--port',
      '0',
      '--no-auth',
      '--upstream',
      `h2c://127.0.0.1:${a.port}`,
    ]);
    const pids = await workerPids(gw);
    assert.equal(pids.length, 2);
    const seen = new Set<number>();
    for (let i = 0; i < 12 && seen.size < 2; i++) seen.add(await pidOfFreshConnection(gw.url));
    assert.deepEqual(
      [...seen].sort(),
      [...pids].sort(),
      'fresh connections are handed to each worker in turn',
    );
    for (let i = 0; i < 6; i++) assert.equal(await completionOnFreshConnection(gw.url), 'ok');

    const [victim, survivor] = pids as [number, number];
    process.kill(victim, 'SIGKILL');
    // node:cluster hands a connection accepted in the moment between the kill and the primary
    // noticing it to the dead worker, where it hangs (a limit of node:cluster, docs/configuration.md):
    // new connections are made once the primary has noticed.
    await eventually(
      () => new RegExp(`worker ${victim} exited \\(SIGKILL\\); starting another`).test(gw?.stderr() ?? ''),
      5000,
      'the primary to notice the dead worker',
    );
    // Until the replacement listens, the survivor takes every connection: nothing fails.
    for (let i = 0; i < 6; i++) assert.equal(await completionOnFreshConnection(gw.url), 'ok');
    const now = new Set<number>();
    await eventually(
      async () => {
        now.add(await pidOfFreshConnection(gw?.url ?? ''));
        return now.size === 2;
      },
      10_000,
      'a replacement worker serving',
    );
    assert.ok(now.has(survivor) && !now.has(victim), `workers now: ${[...now].join(', ')}`);
    await gw.stop();
    gw = undefined;
  });

  it('one set of signing keys: a token issued on one worker is accepted by every other', async () => {
    const key = 'gw_workers-test-dev-key-0123456789';
    gw = await start(['serve', '--workers', '2', '--port', '0', '--upstream', `h2c://127.0.0.1:${a.port}`], {
      GHOSTWIRE_DEV_KEY: key,
    });
    const session = await h2connect(gw.url);
    const r = await h2request(
      session,
      '/copilot_internal/v2/token',
      undefined,
      { authorization: `token ${key}` },
      'GET',
    );
    session.close();
    assert.equal(r.status, 200, r.body);
    const token = (JSON.parse(r.body) as { token: string }).token;
    for (let i = 0; i < 6; i++)
      assert.equal(await completionOnFreshConnection(gw.url, { authorization: `Bearer ${token}` }), 'ok');
    await gw.stop();
    gw = undefined;
  });

  it('SIGHUP reloads every worker; SIGTERM lets a stream in flight end whole, then no process is left', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-workers-'));
    const file = path.join(dir, 'ghostwire.yaml');
    const write = (to: 'a' | 'b'): void => {
      writeFileSync(
        `${file}.tmp`,
        [
          'listeners: [{ host: 127.0.0.1, port: 0 }]',
          'auth: { mode: none }',
          'deployments:',
          `  - { name: a, url: "h2c://127.0.0.1:${a.port}" }`,
          `  - { name: b, url: "h2c://127.0.0.1:${b.port}" }`,
          'models:',
          `  - { name: default, deployments: [${to}] }`,
        ].join('\n'),
      );
      renameSync(`${file}.tmp`, file);
    };
    write('a');
    gw = await start(['serve', '--workers', '2', '--config', file]);
    const pids = await workerPids(gw);
    const before = b.stats().completed;
    write('b');
    gw.child.kill('SIGHUP');
    await eventually(
      () => /SIGHUP: reloaded .*applied/.test(gw?.stderr() ?? ''),
      10_000,
      'the reload log line',
    );
    assert.equal(gw.stderr().match(/SIGHUP: reloaded/g)?.length, 1, 'one line for the whole pool');
    for (let i = 0; i < 6; i++) assert.equal(await completionOnFreshConnection(gw.url), 'ok');
    assert.equal(b.stats().completed - before, 6, 'every worker sends new requests to b');

    // A stream that takes ~0.5 s, through a slow simulator the next reload switches to.
    const slow = await startSimulator({ ttftMs: 5, tokenMs: 25, maxTokens: 20 });
    try {
      writeFileSync(
        `${file}.tmp`,
        [
          'listeners: [{ host: 127.0.0.1, port: 0 }]',
          'auth: { mode: none }',
          `deployments: [{ name: s, url: "h2c://127.0.0.1:${slow.port}" }]`,
          'models: [{ name: default, deployments: [s] }]',
        ].join('\n'),
      );
      renameSync(`${file}.tmp`, file);
      gw.child.kill('SIGHUP');
      await eventually(
        () => (gw?.stderr().match(/SIGHUP: reloaded/g)?.length ?? 0) === 2,
        10_000,
        'second reload',
      );
      const session = await h2connect(gw.url);
      const inFlight = h2request(session, PATH, copilotBody({ max_tokens: 20, stream: true }));
      await eventually(() => slow.stats().active === 1, 3000, 'the slow stream generating');
      const code = gw.stop('SIGTERM');
      const r = await inFlight;
      session.close();
      assert.equal(r.status, 200);
      assert.ok(r.body.includes('data: [DONE]'), 'the stream in flight ended whole');
      assert.equal(slow.stats().cancelled, 0);
      assert.equal(await code, 0);
      gw = undefined;
      for (const pid of pids) await eventually(() => !alive(pid), 5000, `worker ${pid} gone`);
    } finally {
      await slow.close();
    }
  });

  it('refuses a bad --workers, and exits 1 when the port is taken', async () => {
    for (const bad of ['0', 'many', '65']) {
      const r = await runCli(['serve', '--workers', bad, '--no-auth']);
      assert.equal(r.code, 2, `--workers ${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--workers/);
    }
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const r = await runCli([
        'serve',
        '--workers',
        '2',
        '--no-auth',
        '--port',
        String(port),
        '--upstream',
        `h2c://127.0.0.1:${a.port}`,
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
    } finally {
      taken.close();
    }
  });
});
