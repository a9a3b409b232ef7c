import { AuthError, tokenSource, type TokenSource } from './auth.js';
import type { Call } from './call.js';
import { openConnection, type Connection } from './connection.js';
import { loadCorpus } from './corpus.js';
import { Developer, type Workplace } from './developer.js';
import { startEmbedded, type Embedded } from './embedded.js';
import { gpuReport, readCancels, readStats, statsUrlOf, type StatsRead } from './gpu.js';
import { displayUrl, smallRequest } from './http-get.js';
import type { LoadgenOptions } from './options.js';
import { Recorder } from './recorder.js';
import { buildResult, type LoadgenResult } from './result.js';
import { Random } from './typing.js';

/** What a finished run hands back: the result to print and the raw measurements (report, log). */
export interface LoadgenRun {
  result: LoadgenResult;
  recorder: Recorder;
}

/** A run that could not start: the target is unreachable, the key refused (exit 1). */
export class LoadgenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadgenError';
  }
}

export interface RunHooks {
  /** Called once the load starts, with the recorder to watch (the live progress line). */
  onStart?(recorder: Recorder, targetLabel: string): void;
  /** Called when the developers stop typing (the drain begins). */
  onStopSending?(): void;
  /** Ends the typing early (Ctrl-C): requests in flight drain and the summary is still made. */
  stop?: AbortSignal;
}

/** Developers start within this window, so their first keys are not all on one tick. */
const START_SPREAD_MS = 1000;

/**
 * One load-generator run: start the embedded default if there is no --url, get a token, read the
 * simulators' counters, let the developers type until the duration or --requests is reached, let
 * requests in flight finish (at most the drain time; the rest are cut and counted as unfinished),
 * read the counters again, close every connection. Always returns or throws within the duration,
 * the drain time and a few seconds of start-up and closing.
 */
export async function runLoadgen(opts: LoadgenOptions, hooks: RunHooks = {}): Promise<LoadgenRun> {
  const corpus = loadCorpus(opts.corpus);
  let embedded: Embedded | undefined;
  let tokens: TokenSource | undefined;
  const connections: Connection[] = [];
  try {
    let url = opts.url;
    let auth = opts.auth;
    const statsUrls = opts.statsUrls.map(statsUrlOf);
    if (url === undefined) {
      embedded = await startEmbedded();
      url = embedded.url;
      auth = { kind: 'key', key: embedded.key };
      statsUrls.unshift(statsUrlOf(embedded.simulatorUrl));
    }
    await reachable(url, opts.insecure);
    try {
      tokens = await tokenSource(auth, url, opts.insecure);
    } catch (err) {
      if (err instanceof AuthError) throw new LoadgenError(err.message);
      throw err;
    }
    const source = tokens;
    const before = await readStats(statsUrls, opts.insecure);

    const recorder = new Recorder();
    let sending = true;
    let stopSending: () => void = () => {};
    const workplace: Workplace = {
      opts,
      corpus,
      recorder,
      authorization: () => source.authorization(),
      mayFire: () => sending,
      fired: (call: Call) => {
        recorder.sentOne(call);
        if (opts.requests !== undefined && recorder.sent >= opts.requests) stopSending();
      },
    };
    const developers: Developer[] = [];
    for (let i = 0; i < opts.developers; i++) {
      const conn = openConnection(url, opts.protocol, opts.insecure);
      connections.push(conn);
      developers.push(new Developer(i, workplace, conn));
    }
    hooks.onStart?.(recorder, `${displayUrl(url)}${embedded === undefined ? '' : ' (embedded)'}`);

    const spread = new Random(opts.seed ^ 0x5bd1e995);
    for (const d of developers) d.start(spread.float() * Math.min(START_SPREAD_MS, opts.durationS * 500));

    await new Promise<void>((resolve) => {
      const stops: (() => void)[] = [];
      stopSending = () => {
        if (!sending) return;
        sending = false;
        for (const stop of stops) stop();
        for (const d of developers) d.stopTyping();
        hooks.onStopSending?.();
        resolve();
      };
      const end = setTimeout(stopSending, opts.durationS * 1000);
      stops.push(() => clearTimeout(end));
      const signal = hooks.stop;
      if (signal !== undefined) {
        if (signal.aborted) queueMicrotask(stopSending);
        signal.addEventListener('abort', stopSending, { once: true });
        stops.push(() => signal.removeEventListener('abort', stopSending));
      }
      if (opts.mode === 'rate') stops.push(rateSchedule(opts.rate, developers));
    });

    const sendingEndedAt = performance.now();
    await drain(developers, opts.drainMs);
    const endedAt = performance.now();
    for (const c of connections) c.close();
    connections.length = 0;

    const after = await readStats(statsUrls, opts.insecure);
    const readable = statsUrls.filter((_, i) => 'stats' in (after[i] as StatsRead));
    const simCancels = readable.length > 0 ? await readCancels(readable, opts.insecure) : [];
    const gpu = statsUrls.length > 0 ? gpuReport(before, after, simCancels, recorder.records) : undefined;
    const result = buildResult({
      opts,
      target: displayUrl(url),
      embedded: embedded !== undefined,
      corpus,
      recorder,
      sendingS: (sendingEndedAt - recorder.startedAt) / 1000,
      elapsedS: (endedAt - recorder.startedAt) / 1000,
      gpu,
    });
    return { result, recorder };
  } finally {
    for (const c of connections) c.close();
    tokens?.close();
    await embedded?.close();
  }
}

/** Fails fast, with the reason, when nothing answers at the target (any HTTP answer will do). */
async function reachable(url: string, insecure: boolean): Promise<void> {
  try {
    await smallRequest('GET', new URL('/healthz', url).href, { insecure, timeoutMs: 5000 });
  } catch (err) {
    throw new LoadgenError(
      `cannot reach ${displayUrl(url)}: ${err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err)}`,
    );
  }
}

/**
 * Rate mode: request i is due at start + i/rate whatever happened before (open loop), sent by the
 * developers in turn at whatever point of their file they are; each still cancels on its next key.
 */
function rateSchedule(rate: number, developers: readonly Developer[]): () => void {
  const start = performance.now();
  const intervalMs = 1000 / rate;
  let i = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    const now = performance.now();
    while (!stopped && start + i * intervalMs <= now) {
      developers[i % developers.length]?.fire();
      i++;
    }
    if (!stopped) timer = setTimeout(tick, Math.max(0, start + i * intervalMs - performance.now()));
  };
  timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Waits for requests in flight to finish, at most `drainMs`; the rest are cut (unfinished). */
async function drain(developers: readonly Developer[], drainMs: number): Promise<void> {
  const busy = (): boolean => developers.some((d) => d.inflight.size > 0);
  const deadline = performance.now() + drainMs;
  while (busy() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const d of developers) for (const call of [...d.inflight]) call.abandon();
}
