import { Worker } from 'node:worker_threads';

/** The key of the embedded default's one dev user: it lives for one run, on loopback ports only. */
export const EMBEDDED_KEY = 'gw_loadgen-embedded-dev-key';

/** A gateway with a model simulator behind it, started for one run (`ghostwire loadgen` with no --url). */
export interface Embedded {
  /** The gateway, cleartext h2c and HTTP/1.1 on one port. */
  readonly url: string;
  /** The simulator (its /stats is read before and after the run). */
  readonly simulatorUrl: string;
  /** The dev user's API key, exchanged for a token like a Copilot client does. */
  readonly key: string;
  close(): Promise<void>;
}

export type EmbeddedRequest = { type: 'close' };
export type EmbeddedReady = { type: 'ready'; gatewayUrl: string; simulatorUrl: string };
type EmbeddedMessage = EmbeddedReady | { type: 'closed' } | { type: 'failed'; message: string };

/** How long closing may take before the thread is terminated. */
const CLOSE_TIMEOUT_MS = 3000;
const START_TIMEOUT_MS = 15_000;

/** Starts the simulator and the gateway in a worker thread; resolves once both listen. */
export function startEmbedded(): Promise<Embedded> {
  const worker = new Worker(new URL('./embedded-worker.js', import.meta.url), {
    workerData: { key: EMBEDDED_KEY },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`the embedded gateway did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    const onExit = (code: number): void => {
      clearTimeout(timer);
      reject(new Error(`the embedded gateway's thread exited (${code}) before it started`));
    };
    worker.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    worker.once('exit', onExit);
    worker.once('message', (msg: EmbeddedMessage) => {
      clearTimeout(timer);
      worker.off('exit', onExit);
      if (msg.type !== 'ready') {
        void worker.terminate();
        reject(
          new Error(`the embedded gateway failed to start: ${'message' in msg ? msg.message : msg.type}`),
        );
        return;
      }
      let closing: Promise<void> | undefined;
      resolve({
        url: msg.gatewayUrl,
        simulatorUrl: msg.simulatorUrl,
        key: EMBEDDED_KEY,
        close() {
          closing ??= new Promise<void>((done) => {
            const force = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
            worker.once('exit', () => {
              clearTimeout(force);
              done();
            });
            worker.postMessage({ type: 'close' } satisfies EmbeddedRequest);
          });
          return closing;
        },
      });
    });
  });
}
