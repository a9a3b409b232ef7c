// HTTP/2 load client for the benchmark, run as its own process so its CPU is not charged to the
// process under test. Two modes:
//   rate   — open loop: request i is due at start + i/rate, whatever happened to earlier requests,
//            and every tick fires everything that is due, so a slow server cannot slow the
//            schedule down (no coordinated omission). Latency is measured from the moment the
//            request was written; how late that was against the schedule is reported as `lagMs`.
//   closed — C requests in flight at all times: measures the maximum requests/s.
// What is sent: by default 16 fixed bodies in turn (bench/workload.ts); with --sessions N --files M
// the affinity workload (bench/affinity.ts): editor sessions, each with its session id header and M
// files whose prompts share a fixed head. --stats-url (repeatable) names simulators whose prefix
// cache counters are read around the measured phase; the result then carries the hit rate.
// Always bounded by duration and count, always exits, prints one JSON line: {"event":"result",...}.
// With --sync it runs the warm-up, drains, prints {"event":"ready"} and waits for a line on stdin
// before the measured phase, so the caller can sample the server's CPU at exact boundaries.
import http2 from 'node:http2';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import {
  AFFINITY_LIMITS,
  AffinityWorkload,
  prefixCacheBetween,
  readPrefixCounters,
  type PrefixCacheResult,
} from './affinity.js';
import { encodeHeaders, RawH2Connection, type StreamHandler } from './h2-client.js';
import { type LatencySummary, summarizeMicros } from './stats.js';
import { cyclingWorkload, editorsWorkload, type ExtraHeaders, type Workload } from './workload.js';

/** What the load client is asked to do. */
export interface LoadOptions {
  url: string;
  mode: 'rate' | 'closed';
  /** Requests per second (rate mode). */
  rate: number;
  /** Requests in flight (closed mode). */
  concurrency: number;
  durationMs: number;
  /** Upper bound on measured requests, whatever the duration. */
  count: number;
  warmupMs: number;
  connections: number;
  path: string;
  maxTokens: number;
  /** Requests still running this long after the last one was sent are cancelled and counted as timeouts. */
  drainMs: number;
  /** Open loop: a due request is dropped (and counted) instead of sent while this many are in flight. */
  maxInflight: number;
  /** raw: the bench's own minimal h2c client (cheap); node: node:http2 (cross-check). */
  client: 'raw' | 'node';
  sync: boolean;
  /** Authorization header value sent on every request (a gateway token), or undefined. */
  /**
   * Authorization header values; connection i sends the (i mod n)-th on every request (one user
   * per connection, as an editor holds one). Empty: none.
   */
  authorization: readonly string[];
  /** Editor sessions and files per session (the affinity workload); undefined = the fixed bodies. */
  affinity: { sessions: number; files: number; seed: number } | undefined;
  /** Simulator /stats URLs whose prefix-cache counters are read just before and after the measured phase. */
  statsUrls: readonly string[];
  /** Send editor and plugin headers (bench/workload.ts EDITORS) with the fixed bodies: what policy rules match on. */
  editors: boolean;
}

/** The measured phase, as printed. Latencies in ms. */
export interface LoadResult {
  event: 'result';
  mode: 'rate' | 'closed';
  targetRate: number;
  concurrency: number;
  sent: number;
  ok: number;
  errors: Record<string, number>;
  elapsedS: number;
  /** Successful completions per second over the measured phase. */
  rps: number;
  /** Requests written per second (rate mode: should equal the target). */
  sendRate: number;
  ttfb: LatencySummary;
  total: LatencySummary;
  /** How late requests were written against their schedule (rate mode). */
  lagMs: LatencySummary;
  clientCpuUsPerReq: number;
  /** The affinity workload's shape, when it was used. */
  affinity?: { sessions: number; files: number };
  /** Summed over the --stats-url simulators, when any were given. */
  prefixCache?: PrefixCacheResult;
}

/** Per-phase tallies. Latencies are kept as µs in typed arrays that grow by doubling. */
class Recorder {
  ttfb: Float64Array = new Float64Array(4096);
  total: Float64Array = new Float64Array(4096);
  lag: Float64Array = new Float64Array(4096);
  ok = 0;
  sent = 0;
  lagged = 0;
  readonly errors: Record<string, number> = {};
  lastEnd = 0;

  success(ttfbUs: number, totalUs: number, end: number): void {
    if (this.ok === this.ttfb.length) {
      this.ttfb = grow(this.ttfb);
      this.total = grow(this.total);
    }
    this.ttfb[this.ok] = ttfbUs;
    this.total[this.ok] = totalUs;
    this.ok++;
    if (end > this.lastEnd) this.lastEnd = end;
  }

  error(kind: string, end: number): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
    if (end > this.lastEnd) this.lastEnd = end;
  }

  sentAt(lagUs: number): void {
    if (this.lagged === this.lag.length) this.lag = grow(this.lag);
    this.lag[this.lagged++] = lagUs;
    this.sent++;
  }
}

function grow(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/** One phase's bookkeeping shared by every request in it. */
interface Phase {
  rec: Recorder;
  inflight: Set<Exchange>;
  onSettled: () => void;
}

const DONE = Buffer.from('data: [DONE]\n\n', 'latin1');

/**
 * One request's life as either transport reports it: status, data…, then end or error. The first
 * end/error settles it; anything after that is ignored. Data is not copied: only the region
 * holding the stream's last bytes is remembered, to check that it ended with [DONE].
 */
class Exchange implements StreamHandler {
  cancel: () => void = () => {};
  private status = -1;
  private first = 0;
  private settled = false;
  private lastBuf: Buffer | undefined;
  private lastEnd = 0;
  private shortTail: Buffer | undefined;

  constructor(
    private readonly phase: Phase,
    private readonly sent: number,
  ) {}

  onStatus(status: number): void {
    if (this.status === -1) this.status = status;
  }

  onData(buf: Buffer, start: number, end: number): void {
    if (this.first === 0) this.first = performance.now();
    if (end - start >= DONE.length) {
      this.lastBuf = buf;
      this.lastEnd = end;
      this.shortTail = undefined;
    } else {
      // A short DATA frame (rare): keep a copy of the last bytes seen so far.
      const before =
        this.shortTail ?? this.lastBuf?.subarray(this.lastEnd - DONE.length, this.lastEnd) ?? Buffer.alloc(0);
      this.shortTail = Buffer.concat([before, buf.subarray(start, end)]).subarray(-DONE.length);
      this.lastBuf = undefined;
    }
  }

  onEnd(): void {
    if (this.settled) return;
    const now = performance.now();
    if (this.status !== 200) return this.settle(`status_${this.status === 0 ? 'non200' : this.status}`, now);
    const done =
      this.lastBuf !== undefined
        ? this.lastBuf.compare(DONE, 0, DONE.length, this.lastEnd - DONE.length, this.lastEnd) === 0
        : this.shortTail?.equals(DONE) === true;
    if (!done) return this.settle('truncated', now);
    this.settled = true;
    this.phase.inflight.delete(this);
    this.phase.rec.success((this.first - this.sent) * 1000, (now - this.sent) * 1000, now);
    this.lastBuf = undefined;
    this.phase.onSettled();
  }

  onError(kind: string): void {
    if (!this.settled) this.settle(kind, performance.now());
  }

  private settle(kind: string, now: number): void {
    this.settled = true;
    this.phase.inflight.delete(this);
    this.phase.rec.error(kind, now);
    this.lastBuf = undefined;
    this.phase.onSettled();
  }
}

/** How requests reach the server: the bench's raw h2c client, or node:http2 for a cross-check. */
interface Transport {
  connect(): Promise<void>;
  /** Sends one request with the connection's headers plus `extra`; sets `ex.cancel`. */
  send(body: Buffer, ex: Exchange, extra: ExtraHeaders | undefined): void;
  close(): void;
}

class RawTransport implements Transport {
  private readonly conns: RawH2Connection[] = [];
  private next = 0;
  private readonly host: string;
  private readonly port: number;

  constructor(
    url: string,
    private readonly path: string,
    private readonly connections: number,
    private readonly authorization: readonly string[],
  ) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
  }

  async connect(): Promise<void> {
    for (let i = 0; i < this.connections; i++)
      this.conns.push(new RawH2Connection(this.host, this.port, this.path, authOf(this.authorization, i)));
    await Promise.all(this.conns.map((c) => c.ready));
  }

  send(body: Buffer, ex: Exchange, extra: ExtraHeaders | undefined): void {
    const i = this.next++ % this.conns.length;
    let conn = this.conns[i];
    if (conn === undefined || !conn.usable) {
      conn = new RawH2Connection(this.host, this.port, this.path, authOf(this.authorization, i));
      this.conns[i] = conn;
    }
    const c = conn;
    ex.cancel = () => c.cancel(ex, 'timeout');
    conn.request(body, ex, extra?.hpack);
  }

  close(): void {
    for (const c of this.conns) c.close();
  }
}

class NodeTransport implements Transport {
  private readonly sessions: http2.ClientHttp2Session[] = [];
  private next = 0;

  constructor(
    private readonly url: string,
    private readonly path: string,
    private readonly connections: number,
    private readonly authorization: readonly string[],
  ) {}

  async connect(): Promise<void> {
    await Promise.all(
      Array.from(
        { length: this.connections },
        (_, i) =>
          new Promise<void>((resolve, reject) => {
            const session = http2.connect(this.url);
            session.on('error', () => {}); // its streams fail and are counted; the next use reconnects
            session.once('connect', () => resolve());
            session.once('close', () => reject(new Error(`cannot connect to ${this.url}`)));
            this.sessions[i] = session;
          }),
      ),
    );
  }

  send(body: Buffer, ex: Exchange, extra: ExtraHeaders | undefined): void {
    const i = this.next++ % this.sessions.length;
    let session = this.sessions[i];
    if (session === undefined || session.closed || session.destroyed) {
      session = http2.connect(this.url);
      session.on('error', () => {});
      this.sessions[i] = session;
    }
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({
        ':method': 'POST',
        ':path': this.path,
        'content-type': 'application/json',
        ...(this.authorization.length === 0 ? {} : { authorization: authOf(this.authorization, i) }),
        ...extra?.fields,
      });
    } catch {
      ex.onError('request_failed');
      return;
    }
    ex.cancel = () => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      ex.onError('timeout');
    };
    stream.on('response', (headers) => ex.onStatus(Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => ex.onData(chunk, 0, chunk.length));
    stream.on('end', () => ex.onEnd());
    stream.on('error', () => {});
    stream.on('close', () => ex.onError(`reset_${stream.rstCode ?? 0}`)); // no-op after a clean end
    stream.end(body);
  }

  close(): void {
    for (const s of this.sessions) s.destroy();
  }
}

/** The authorization of connection i: the list in turn, one per connection. */
function authOf(list: readonly string[], i: number): string | undefined {
  return list.length === 0 ? undefined : list[i % list.length];
}

class LoadClient {
  private readonly transport: Transport;
  private readonly workload: Workload;

  constructor(private readonly opts: LoadOptions) {
    this.workload =
      opts.affinity !== undefined
        ? new AffinityWorkload({ ...opts.affinity, maxTokens: opts.maxTokens })
        : opts.editors
          ? editorsWorkload(opts.maxTokens, encodeHeaders)
          : cyclingWorkload(opts.maxTokens);
    this.transport =
      opts.client === 'node'
        ? new NodeTransport(opts.url, opts.path, opts.connections, opts.authorization)
        : new RawTransport(opts.url, opts.path, opts.connections, opts.authorization);
  }

  connect(): Promise<void> {
    return this.transport.connect();
  }

  /** Sends one streaming completion; `due` is when the schedule wanted it sent (ms, performance.now()). */
  fire(phase: Phase, due: number): void {
    const work = this.workload.next();
    const sent = performance.now();
    phase.rec.sentAt((sent - due) * 1000);
    const ex = new Exchange(phase, sent);
    phase.inflight.add(ex);
    this.transport.send(work.body, ex, work.headers);
  }

  /** Runs one phase to completion (sending stops at the duration or count, then in-flight drains). */
  runPhase(durationMs: number, count: number): Promise<Recorder> {
    const opts = this.opts;
    const rec = new Recorder();
    const inflight = new Set<Exchange>();
    return new Promise((resolve) => {
      let sending = true;
      let drainTimer: NodeJS.Timeout | undefined;
      const maybeDone = (): void => {
        if (sending || inflight.size > 0) return;
        if (drainTimer !== undefined) clearTimeout(drainTimer);
        resolve(rec);
      };
      const stopSending = (): void => {
        sending = false;
        drainTimer = setTimeout(() => {
          for (const ex of [...inflight]) ex.cancel();
        }, opts.drainMs);
        maybeDone();
      };
      const start = performance.now();

      if (opts.mode === 'closed') {
        const phase: Phase = {
          rec,
          inflight,
          onSettled: () => {
            if (sending && rec.sent < count && performance.now() - start < durationMs) {
              // Not from inside the transport's callback: keeps the stack flat if requests fail fast.
              setImmediate(() => this.fire(phase, performance.now()));
            } else if (sending) stopSending();
            else maybeDone();
          },
        };
        for (let i = 0; i < Math.min(opts.concurrency, count); i++) this.fire(phase, start);
        return;
      }

      const phase: Phase = { rec, inflight, onSettled: () => maybeDone() };
      const intervalMs = 1000 / opts.rate;
      const scheduled = Math.min(count, Math.floor((durationMs / 1000) * opts.rate));
      let i = 0;
      const tick = (): void => {
        const now = performance.now();
        for (; i < scheduled; i++) {
          const due = start + i * intervalMs;
          if (due > now) break;
          if (inflight.size >= opts.maxInflight) {
            rec.sent++;
            rec.error('dropped_client_overload', now);
          } else this.fire(phase, due);
        }
        if (i >= scheduled) stopSending();
        else setTimeout(tick, start + i * intervalMs - performance.now());
      };
      tick();
    });
  }

  close(): void {
    this.transport.close();
  }
}

/** Runs warm-up and measured phase, returns the measured result. */
export async function runLoad(opts: LoadOptions, beforeMeasure: () => Promise<void>): Promise<LoadResult> {
  const client = new LoadClient(opts);
  try {
    await client.connect();
    if (opts.warmupMs > 0) {
      const warmupCount = opts.mode === 'rate' ? Math.ceil((opts.warmupMs / 1000) * opts.rate) : 10_000_000;
      await client.runPhase(opts.warmupMs, warmupCount);
    }
    await beforeMeasure();
    // Read before the CPU sample starts and after it ends: the reads are not the client's load.
    const cacheBefore = opts.statsUrls.length > 0 ? await readPrefixCounters(opts.statsUrls) : undefined;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const rec = await client.runPhase(opts.durationMs, opts.count);
    const cpu = process.cpuUsage(cpu0);
    const cacheAfter = cacheBefore === undefined ? undefined : await readPrefixCounters(opts.statsUrls);
    const elapsedMs = Math.max(1, (rec.lastEnd || performance.now()) - t0);
    const errorCount = Object.values(rec.errors).reduce((a, b) => a + b, 0);
    const sendSpanMs = opts.mode === 'rate' ? Math.max(1, (rec.sent * 1000) / opts.rate) : elapsedMs; // schedule span
    return {
      event: 'result',
      mode: opts.mode,
      targetRate: opts.mode === 'rate' ? opts.rate : 0,
      concurrency: opts.mode === 'closed' ? opts.concurrency : 0,
      sent: rec.sent,
      ok: rec.ok,
      errors: rec.errors,
      elapsedS: round(elapsedMs / 1000, 3),
      rps: round((rec.ok * 1000) / elapsedMs, 1),
      sendRate: round((rec.sent * 1000) / sendSpanMs, 1),
      ttfb: summarizeMicros(rec.ttfb, rec.ok),
      total: summarizeMicros(rec.total, rec.ok),
      lagMs: summarizeMicros(rec.lag, rec.lagged),
      clientCpuUsPerReq: round((cpu.user + cpu.system) / Math.max(1, rec.ok + errorCount), 1),
      ...(opts.affinity === undefined
        ? {}
        : { affinity: { sessions: opts.affinity.sessions, files: opts.affinity.files } }),
      ...(cacheBefore === undefined || cacheAfter === undefined
        ? {}
        : { prefixCache: prefixCacheBetween(cacheBefore, cacheAfter) }),
    };
  } finally {
    client.close();
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function waitForGo(): Promise<void> {
  return new Promise((resolve) => {
    process.stdout.write(JSON.stringify({ event: 'ready' }) + '\n');
    process.stdin.once('data', () => {
      process.stdin.pause();
      resolve();
    });
    process.stdin.once('end', () => fail('stdin closed before "go"'));
  });
}

function numberFlag(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} expects a non-negative number, got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      mode: { type: 'string' },
      rate: { type: 'string' },
      concurrency: { type: 'string' },
      'duration-s': { type: 'string' },
      count: { type: 'string' },
      'warmup-s': { type: 'string' },
      connections: { type: 'string' },
      path: { type: 'string' },
      'max-tokens': { type: 'string' },
      'drain-s': { type: 'string' },
      'max-inflight': { type: 'string' },
      client: { type: 'string' },
      sync: { type: 'boolean' },
      authorization: { type: 'string', multiple: true },
      sessions: { type: 'string' },
      files: { type: 'string' },
      seed: { type: 'string' },
      'stats-url': { type: 'string', multiple: true },
      editors: { type: 'boolean' },
    },
  });
  const mode = values.mode === 'closed' ? 'closed' : 'rate';
  const rate = numberFlag(values.rate, 2000, 'rate');
  const durationMs = numberFlag(values['duration-s'], 10, 'duration-s') * 1000;
  const opts: LoadOptions = {
    url: values.url ?? 'http://127.0.0.1:8080',
    mode,
    rate,
    concurrency: Math.max(1, numberFlag(values.concurrency, 64, 'concurrency')),
    durationMs,
    count: Math.max(1, numberFlag(values.count, 1_000_000, 'count')),
    warmupMs: numberFlag(values['warmup-s'], 0, 'warmup-s') * 1000,
    connections: Math.max(1, numberFlag(values.connections, 8, 'connections')),
    path: values.path ?? '/v1/engines/default/completions',
    maxTokens: Math.max(1, numberFlag(values['max-tokens'], 8, 'max-tokens')),
    drainMs: numberFlag(values['drain-s'], 5, 'drain-s') * 1000,
    maxInflight: Math.max(1, numberFlag(values['max-inflight'], 4096, 'max-inflight')),
    client: values.client === 'node' ? 'node' : 'raw',
    sync: values.sync === true,
    authorization: values.authorization ?? [],
    affinity: affinityFlags(values.sessions, values.files, values.seed),
    statsUrls: values['stats-url'] ?? [],
    editors: values.editors === true,
  };
  // Hard bound, whatever happens: warm-up + run + drain (twice) + slack, plus the wait for "go".
  const limitMs = opts.warmupMs + opts.durationMs + 2 * opts.drainMs + 15_000;
  let watchdog = setTimeout(() => fail('watchdog: load client overran its time bound'), limitMs);
  const result = await runLoad(opts, async () => {
    if (!opts.sync) return;
    clearTimeout(watchdog);
    watchdog = setTimeout(() => fail('watchdog: no "go" on stdin within 60 s'), 60_000);
    await waitForGo();
    clearTimeout(watchdog);
    watchdog = setTimeout(() => fail('watchdog: load client overran its time bound'), limitMs);
  });
  clearTimeout(watchdog);
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
}

/** --sessions N [--files M] [--seed S]: the affinity workload; --files or --seed alone are a mistake. */
function affinityFlags(
  sessions: string | undefined,
  files: string | undefined,
  seed: string | undefined,
): LoadOptions['affinity'] {
  if (sessions === undefined) {
    if (files !== undefined || seed !== undefined) throw new Error('--files and --seed need --sessions');
    return undefined;
  }
  return {
    sessions: intFlag(sessions, 1, AFFINITY_LIMITS.sessions, 'sessions'),
    files: files === undefined ? 1 : intFlag(files, 1, AFFINITY_LIMITS.files, 'files'),
    seed: seed === undefined ? 1 : intFlag(seed, 0, 0xffffffff, 'seed'),
  };
}

function intFlag(v: string, min: number, max: number, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name} expects an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

function fail(message: string): void {
  process.stdout.write(JSON.stringify({ event: 'error', message }) + '\n', () => process.exit(1));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
}
