// The embedded default's thread: a model simulator and a gateway in front of it, as `ghostwire
// serve` with no flags runs them, on free ports. A worker thread of the load generator's process:
// the gateway's work then runs on another core than the developers' timers and the clients that
// measure it, and nothing outlives the run.
import { parentPort, workerData } from 'node:worker_threads';
import { devAuth, DEV_KEY_ENV } from '../config/dev-auth.js';
import { configForEmbedded } from '../config/from-flags.js';
import { validateConfig } from '../config/load.js';
import { startGateway } from '../server/gateway.js';
import { startSimulator } from '../simulator/index.js';
import type { EmbeddedReady, EmbeddedRequest } from './embedded.js';

/** Draining the gateway at the end: every client connection is closed by then. */
const CLOSE_GRACE_MS = 1000;

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('embedded-worker.js runs as a worker thread');
  const { key } = workerData as { key: string };
  const sim = await startSimulator({ host: '127.0.0.1', port: 0 });
  const { auth } = devAuth({ [DEV_KEY_ENV]: key });
  const gateway = await startGateway(
    validateConfig(
      { ...configForEmbedded(sim.port, auth), listeners: [{ host: '127.0.0.1', port: 0 }] },
      'embedded default',
    ),
  );
  port.on('message', (msg: EmbeddedRequest) => {
    if (msg.type !== 'close') return;
    void gateway
      .close(CLOSE_GRACE_MS)
      .then(() => sim.close())
      .finally(() => {
        port.postMessage({ type: 'closed' });
        port.close();
      });
  });
  const ready: EmbeddedReady = { type: 'ready', gatewayUrl: gateway.urls[0] ?? '', simulatorUrl: sim.url };
  port.postMessage(ready);
}

main().catch((err: unknown) => {
  parentPort?.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  parentPort?.close();
});
