import cluster, { type Worker } from 'node:cluster';
import type { GatewayConfig } from '../config/schema.js';
import type { ReloadResult } from '../server/reload-plan.js';
import { isGwMessage, type FromWorker, type GatewayFacts, type ToWorker } from './worker-messages.js';

/** A worker that died is replaced after this long, doubling while they keep dying, up to the max. */
const RESTART_DELAY_MS = { first: 100, max: 10_000 } as const;
/** A worker that lived this long is healthy again: its replacement's delay starts over. */
const HEALTHY_AFTER_MS = 30_000;
/** How long a worker may take to start, or to answer a reload. */
const ANSWER_TIMEOUT_MS = 30_000;

export class WorkerStartError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'WorkerStartError';
  }
}

/**
 * The primary of `serve --workers N`: forks N copies of this command as node:cluster workers,
 * gives each the validated config, and keeps N running — a worker that exits without being
 * asked to is replaced (after a delay that grows while replacements keep dying, so a config that
 * crashes every worker cannot turn into a fork storm). Connections are shared by node:cluster:
 * the primary accepts and hands each to a worker in turn, so an HTTP/2 connection and all its
 * streams stay on one worker.
 */
export class WorkerPool {
  #config: GatewayConfig;
  readonly #size: number;
  readonly #log: (line: string) => void;
  readonly #workers = new Set<Worker>();
  #stopping = false;
  /** Until every first worker listens, one that exits fails the start instead of being replaced. */
  #started = false;
  #restartDelayMs: number = RESTART_DELAY_MS.first;
  #restartTimer: NodeJS.Timeout | undefined;
  #seq = 0;
  /** Workers replaced since start (crashes, kills). */
  restarts = 0;

  constructor(size: number, config: GatewayConfig, log: (line: string) => void) {
    this.#size = size;
    this.#config = config;
    this.#log = log;
  }

  get pids(): number[] {
    return [...this.#workers].flatMap((w) => (w.process.pid === undefined ? [] : [w.process.pid]));
  }

  /** Forks every worker; resolves with the first one's facts once all listen, rejects if one cannot. */
  async start(): Promise<GatewayFacts> {
    const started = await Promise.allSettled(Array.from({ length: this.#size }, () => this.#fork()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await this.stop(0);
      throw failed.reason;
    }
    const first = started[0];
    if (first?.status !== 'fulfilled') throw new Error('no worker started');
    this.#started = true;
    return first.value;
  }

  /** Sends a validated config to every worker; each applies it to its new requests. */
  async reload(config: GatewayConfig): Promise<ReloadResult> {
    this.#config = config;
    const seq = ++this.#seq;
    const answers = await Promise.all(
      [...this.#workers].map((w) =>
        this.#ask(w, { type: 'gw:reload', seq, config }, (m) =>
          (m.type === 'gw:reloaded' || m.type === 'gw:reload-failed') && m.seq === seq ? m : undefined,
        ),
      ),
    );
    const failed = answers.find((a) => a.type === 'gw:reload-failed');
    if (failed?.type === 'gw:reload-failed') throw new Error(failed.message);
    const first = answers[0];
    return first?.type === 'gw:reloaded'
      ? { applied: first.applied, needsRestart: first.needsRestart }
      : { applied: [], needsRestart: [] };
  }

  /** Asks every worker to drain; kills those still running `graceMs` + 5 s later. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    await Promise.all(
      [...this.#workers].map(async (w) => {
        if (w.isDead()) return;
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        this.#send(w, { type: 'gw:stop' });
        const killer = setTimeout(() => w.process.kill('SIGKILL'), graceMs + 5000);
        await exited;
        clearTimeout(killer);
      }),
    );
  }

  #send(w: Worker, m: ToWorker): void {
    if (w.isConnected()) w.send(m);
  }

  /** Forks one worker and sends it the config; resolves when it listens. */
  #fork(): Promise<GatewayFacts> {
    const w = cluster.fork();
    const bornAt = Date.now();
    this.#workers.add(w);
    w.once('exit', (code, signal) => {
      this.#workers.delete(w);
      if (this.#stopping || !this.#started) return;
      this.#log(
        `ghostwire: worker ${w.process.pid ?? '?'} exited (${signal ?? `code ${code}`}); ` +
          `starting another in ${Date.now() - bornAt > HEALTHY_AFTER_MS ? RESTART_DELAY_MS.first : this.#restartDelayMs} ms\n`,
      );
      this.#replace(Date.now() - bornAt > HEALTHY_AFTER_MS);
    });
    return this.#ask(w, undefined, (m) => (m.type === 'gw:hello' ? m : undefined))
      .then(() =>
        this.#ask(w, { type: 'gw:start', config: this.#config }, (m) =>
          m.type === 'gw:ready' || m.type === 'gw:start-failed' ? m : undefined,
        ),
      )
      .then((m) => {
        if (m.type === 'gw:start-failed') throw new WorkerStartError(m.message, m.code);
        const { urls, firstModel, auth } = m;
        return { urls, firstModel, auth };
      });
  }

  #replace(healthy: boolean): void {
    if (healthy) this.#restartDelayMs = RESTART_DELAY_MS.first;
    const delay = this.#restartDelayMs;
    this.#restartDelayMs = Math.min(RESTART_DELAY_MS.max, this.#restartDelayMs * 2);
    this.#restartTimer = setTimeout(() => {
      if (this.#stopping) return;
      this.restarts++;
      this.#fork().catch((err: unknown) => {
        // It exited, so its exit handler schedules the next try.
        this.#log(
          `ghostwire: a replacement worker could not start: ${err instanceof Error ? err.message : String(err)}\n`,
        );
      });
    }, delay);
  }

  /** Sends `m` (if any) and waits for the first answer `pick` accepts, the worker's exit, or the timeout. */
  #ask<T extends FromWorker>(
    w: Worker,
    m: ToWorker | undefined,
    pick: (m: FromWorker) => T | undefined,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        w.removeListener('message', onMessage);
        w.removeListener('exit', onExit);
      };
      const onMessage = (raw: unknown): void => {
        if (!isGwMessage(raw)) return;
        const answer = pick(raw as FromWorker);
        if (answer === undefined) return;
        done();
        resolve(answer);
      };
      const onExit = (code: number | null, signal: string | null): void => {
        done();
        reject(
          new WorkerStartError(`worker exited (${signal ?? `code ${code}`}) before answering`, undefined),
        );
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`worker ${w.process.pid ?? '?'} did not answer within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      w.on('message', onMessage);
      w.once('exit', onExit);
      if (m !== undefined) this.#send(w, m);
    });
  }
}
