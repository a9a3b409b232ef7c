// The connection-scale benchmark (bench/connections.ts): its arithmetic, checks and table without
// processes, and the two pieces that run inside other processes against real sockets — the client
// process (bench/connections-client.ts), whose idle connections must be completed HTTP/2
// handshakes and whose streams must be counted as open, and the heap probe preloaded into a proxy.
// Run:
//   npx tsc -p tsconfig.json && node --test dist/bench/connections.test.js
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { validateConfig } from '../src/config/load.js';
import {
  boundSteps,
  checkResults,
  type ConnectionsSettings,
  DEFAULTS,
  gatewayConfig,
  type IdleResult,
  perThousand,
  renderMarkdown,
  split,
  streamsProblem,
  type StreamsResult,
} from './connections.js';
import type { Status } from './connections-client.js';
import { HEAP_PROBE_MARKER, type HeapReport } from './heap-probe.js';
import { spawnNode, stop } from './processes.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SETTINGS: ConnectionsSettings = {
  ...DEFAULTS,
  steps: [0, 1000, 2000],
  pin: false,
  json: undefined,
  fdLimit: 20_000,
  droppedSteps: [],
};

function idle(proxy: 'ghostwire' | 'naive', rss: [number, number, number]): IdleResult {
  return {
    proxy,
    steps: [0, 1000, 2000].map((n, i) => ({
      connections: n,
      held: n,
      rssMiB: rss[i] ?? 0,
      heapUsedMiB: 5 + n / 1000,
      externalMiB: 1,
    })),
    holdS: 10,
    heldAfterHold: 2000,
    dropped: 0,
    goaways: 0,
    failedHandshakes: 0,
    openS: 0.2,
    oldestHeldS: 12,
  };
}

function streams(proxy: 'ghostwire' | 'naive'): StreamsResult {
  return {
    proxy,
    connections: 100,
    streamsPerConnection: 10,
    held: 1000,
    upstreamActive: 1000,
    errors: {},
    ended: 0,
    rssIdleMiB: 60,
    heapIdleMiB: 6,
    rssMiB: 110,
    heapUsedMiB: 10,
    cpuPercent: 20,
    eventsPerS: 19_000,
  };
}

void test('steps are bounded by the open-file limit; the streams must outlast the window and fit the deadline', () => {
  assert.deepEqual(boundSteps([0, 1000, 5000, 10_000], 2, 6000), {
    steps: [0, 1000, 5000],
    dropped: [10_000],
  });
  assert.deepEqual(boundSteps([0, 10_000], 2, 20_000).dropped, []);
  assert.equal(streamsProblem(DEFAULTS), undefined);
  assert.match(streamsProblem({ ...DEFAULTS, maxTokens: 100 }) ?? '', /must outlast/);
  assert.match(streamsProblem({ ...DEFAULTS, maxTokens: 1000 }) ?? '', /30 s request deadline/);
  assert.deepEqual(split(5, 2), [3, 2]);
  assert.deepEqual(split(10_000, 3), [3334, 3333, 3333]);
});

void test("the gateway's config is --upstream's with the capacity raised and no auth", () => {
  const parsed = validateConfig(gatewayConfig('http://127.0.0.1:9000', 1000));
  assert.deepEqual(
    parsed.deployments.map((d) => [d.url, d.maxConcurrent]),
    [['h2c://127.0.0.1:9000', 1000]],
  );
  assert.equal(parsed.auth.mode, 'none');
  assert.equal(validateConfig(gatewayConfig('http://127.0.0.1:9000', 10)).deployments[0]?.maxConcurrent, 256);
});

void test('MiB per 1000 connections is the growth over the baseline step', () => {
  const r = idle('ghostwire', [60, 80, 101]);
  assert.ok(Number.isNaN(perThousand(r.steps, r.steps[0]!, 'rssMiB')));
  assert.equal(perThousand(r.steps, r.steps[1]!, 'rssMiB'), 20);
  assert.equal(perThousand(r.steps, r.steps[2]!, 'rssMiB'), 20.5);
  assert.equal(perThousand(r.steps, r.steps[2]!, 'heapUsedMiB'), 1);
});

void test('dropped connections, streams that ended or failed, and a short upstream count fail the run', () => {
  const sound = checkResults(
    SETTINGS,
    [idle('ghostwire', [60, 80, 100]), idle('naive', [50, 70, 90])],
    [streams('ghostwire'), streams('naive')],
  );
  assert.deepEqual(sound, []);
  const bad = checkResults(
    SETTINGS,
    [{ ...idle('ghostwire', [60, 80, 100]), heldAfterHold: 1990, dropped: 10 }],
    [{ ...streams('naive'), held: 990, upstreamActive: 995, errors: { reset_2: 10 } }],
  );
  assert.equal(bad.length, 5, bad.join('\n'));
});

void test('the markdown has a row per step, one per proxy in the streams table, and the ratios', () => {
  const md = renderMarkdown(
    SETTINGS,
    [idle('ghostwire', [60, 80, 100]), idle('naive', [50, 70, 90])],
    [streams('ghostwire'), { ...streams('naive'), rssMiB: 100, cpuPercent: 10 }],
    50,
  );
  assert.ok(md.startsWith('Connection scale benchmark:'));
  assert.match(
    md,
    /^\| 2,000 \| 2,000 \/ 2,000 \| 100\.0 \/ 90\.0 \| 7\.0 \/ 7\.0 \| 20\.00 \/ 20\.00 \| 1\.00 \/ 1\.00 \|$/m,
  );
  assert.match(md, /ghostwire 20\.00 MiB RSS per 1000 .*1\.00× the naive proxy's/);
  assert.match(md, /^\| ghostwire \| 100 × 10 \| 1,000 \/ 1,000 \| 60\.0 → 110\.0 \|/m);
  assert.match(md, /CPU 2\.00×, memory per stream 1\.25× the naive proxy's/);
});

/** Drives a connections-client process: one command, one JSON answer. */
function client(): { ask(cmd: object): Promise<Status>; stop(): Promise<void> } {
  const answers: ((s: Status) => void)[] = [];
  const { child } = spawnNode('client', [join(HERE, 'connections-client.js')], {
    stdin: true,
    onLine: (line) => answers.shift()?.(JSON.parse(line) as Status),
  });
  return {
    ask: (cmd) =>
      new Promise((resolve) => {
        answers.push(resolve);
        child.stdin?.write(JSON.stringify(cmd) + '\n');
      }),
    stop: () => stop(child),
  };
}

// Protocol edge: an idle connection counts only once the handshake is complete both ways — the
// server has our SETTINGS acknowledged ('localSettings' fires when the client ACKs the server's)
// and has seen the client's ('remoteSettings') — and a connection the server closes is not held.
void test('the client holds idle connections with completed handshakes and notices when the server drops them', async () => {
  const server = http2.createServer();
  const sessions: http2.ServerHttp2Session[] = [];
  let acked = 0;
  let remote = 0;
  server.on('session', (s) => {
    sessions.push(s);
    s.on('localSettings', () => acked++);
    s.on('remoteSettings', () => remote++);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const c = client();
  try {
    const opened = await c.ask({ cmd: 'idle', url, count: 30 });
    assert.equal(opened.idleHeld, 30);
    assert.equal(opened.idleFailed, 0);
    assert.equal(sessions.length, 30);
    assert.equal(acked, 30, 'every client acknowledged the server SETTINGS');
    assert.equal(remote, 30, 'every client sent its SETTINGS');
    assert.equal((await c.ask({ cmd: 'idle', url, count: 20 })).idleHeld, 20);
    // The server closes every remaining one (GOAWAY, then the socket).
    for (const s of sessions) if (!s.closed) s.close();
    await new Promise((r) => setTimeout(r, 200));
    const after = await c.ask({ cmd: 'status' });
    assert.equal(after.idleHeld, 0);
    assert.equal(after.idleDropped, 20);
    assert.equal(after.goaways, 20);
  } finally {
    await c.stop();
    for (const s of sessions) s.destroy();
    server.close();
  }
});

void test('the client opens K streams on each of M connections and counts them open and their events', async () => {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
    stream.write('data: {"a":1}\n\n');
    stream.write('data: {"a":2}\n\n');
    stream.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const c = client();
  try {
    await c.ask({ cmd: 'connect', url, connections: 3 });
    const s = await c.ask({ cmd: 'streams', streams: 4, maxTokens: 8 });
    assert.equal(s.streamsOpen, 12);
    await new Promise((r) => setTimeout(r, 100));
    const later = await c.ask({ cmd: 'status' });
    assert.equal(later.streamsOpen, 12);
    assert.equal(later.events, 24);
    assert.deepEqual(later.streamErrors, {});
  } finally {
    await c.stop();
    server.close();
  }
});

void test('the heap probe answers SIGUSR2 with memoryUsage after a GC, and does nothing unless preloaded', async () => {
  // This process imported the module (for the marker) without preloading it: no handler here.
  assert.equal(process.listenerCount('SIGUSR2'), 0);
  const probe = pathToFileURL(join(HERE, 'heap-probe.js')).href;
  const lines: string[] = [];
  const { child } = spawnNode(
    'probed',
    ['--expose-gc', '--import', probe, '-e', 'console.log("ready"); setTimeout(() => {}, 10000)'],
    { onLine: (l) => lines.push(l) },
  );
  try {
    while (!lines.includes('ready')) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGUSR2');
    while (!lines.some((l) => l.startsWith(HEAP_PROBE_MARKER))) await new Promise((r) => setTimeout(r, 20));
    const line = lines.find((l) => l.startsWith(HEAP_PROBE_MARKER)) ?? '';
    const report = JSON.parse(line.slice(HEAP_PROBE_MARKER.length + 1)) as HeapReport;
    assert.ok(report.heapUsed > 0 && report.rss > report.heapUsed);
  } finally {
    await stop(child);
  }
});
