import { Worker } from 'node:worker_threads';
import { ConfigError, type ConfigProblem } from './errors.js';
import { deepFreeze } from './freeze.js';
import type { GatewayConfig } from './schema.js';

/** What the main thread asks the config worker. */
export type ConfigRequest =
  | { id: number; kind: 'load'; file: string }
  | { id: number; kind: 'validate'; value: unknown; source: string };

/** What the worker answers: the config, the problems found, or an unexpected failure. */
export type ConfigReply =
  | { id: number; ok: true; config: GatewayConfig }
  | { id: number; ok: false; problems: ConfigProblem[]; source: string }
  | { id: number; ok: false; message: string; code: string | undefined };

/**
 * Loads and validates config in a worker thread, for the long-running `serve` process. The schema
 * library and the schema itself (~3 MB of heap once imported) and the YAML parser then never enter
 * the serving heap, where every full GC would mark them for as long as the gateway runs (measured:
 * a heap 12 MB larger costs the proxy ~14% more CPU per request and ~6 ms of p99). The price is
 * a thread start (~50 ms) when the gateway starts and on each reload. Results and errors are the
 * same as loadConfigFile / validateConfig: a frozen config, or a ConfigError with every problem.
 */
export class IsolatedConfig {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (c: GatewayConfig) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #failure: Error | undefined;

  constructor() {
    // No inherited flags: --input-type, --cpu-prof or --import hooks meant for the gateway
    // would break or burden a worker that only validates.
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { execArgv: [] });
    this.#worker.on('message', (reply: ConfigReply) => this.#settle(reply));
    const fail = (err: Error): void => {
      this.#failure = err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the config worker exited (code ${code})`)));
  }

  /** Reads, parses (YAML or JSON) and validates a config file. */
  load(file: string): Promise<GatewayConfig> {
    return this.#ask({ id: this.#nextId++, kind: 'load', file });
  }

  /** Validates an already-parsed config value. */
  validate(value: unknown, source: string): Promise<GatewayConfig> {
    return this.#ask({ id: this.#nextId++, kind: 'validate', value, source });
  }

  /** Stops the worker; its heap goes with it. */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }

  #ask(req: ConfigRequest): Promise<GatewayConfig> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending.set(req.id, { resolve, reject });
      this.#worker.postMessage(req);
    });
  }

  #settle(reply: ConfigReply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.ok) p.resolve(deepFreeze(reply.config));
    else if ('problems' in reply) p.reject(new ConfigError(reply.source, reply.problems));
    else
      p.reject(Object.assign(new Error(reply.message), reply.code === undefined ? {} : { code: reply.code }));
  }
}

/** Runs `fn` with a config worker, stopping the worker afterwards whatever happens. */
export async function withIsolatedConfig<T>(fn: (config: IsolatedConfig) => Promise<T>): Promise<T> {
  const isolated = new IsolatedConfig();
  try {
    return await fn(isolated);
  } finally {
    await isolated.close();
  }
}
