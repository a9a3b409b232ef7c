import { startGateway, type Gateway } from '../server/gateway.js';
import { skipDeprecatedBindAccessor } from '../server/node-workarounds.js';
import { logHealthChanges } from '../telemetry/health-log.js';
import { logLimitsStore } from '../telemetry/limits-log.js';
import { isGwMessage, type FromWorker, type ToWorker } from './worker-messages.js';

/**
 * One worker process of `serve --workers N`: it waits for the config from the primary, serves it
 * on the shared listening port (node:cluster hands it the primary's socket), applies reloads the
 * primary sends, and drains on the primary's word, on SIGTERM, or when the primary is gone.
 * Signals a terminal sends the whole process group (Ctrl-C, SIGHUP) are the primary's to act on.
 */
export async function runWorker(): Promise<number> {
  skipDeprecatedBindAccessor();
  const send = (m: FromWorker): void => {
    if (process.connected) process.send?.(m);
  };
  process.on('SIGINT', ignore);
  process.on('SIGHUP', ignore);
  const start = await new Promise<Extract<ToWorker, { type: 'gw:start' }> | undefined>((resolve) => {
    const onMessage = (m: unknown): void => {
      if (!isGwMessage(m) || m.type !== 'gw:start') return;
      process.removeListener('message', onMessage);
      process.removeListener('disconnect', onGone);
      resolve(m as Extract<ToWorker, { type: 'gw:start' }>);
    };
    const onGone = (): void => resolve(undefined);
    process.on('message', onMessage);
    process.once('disconnect', onGone);
    // A message sent before this process listens for it is lost: the primary waits for this.
    send({ type: 'gw:hello' });
  });
  if (start === undefined) return 1;

  let gateway: Gateway;
  try {
    gateway = await startGateway(start.config);
  } catch (err) {
    send({
      type: 'gw:start-failed',
      message: err instanceof Error ? err.message : String(err),
      code: (err as NodeJS.ErrnoException).code,
    });
    return 1;
  }
  logHealthChanges((line) => process.stderr.write(line));
  logLimitsStore((line) => process.stderr.write(line));

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      process.removeListener('message', onMessage);
      void gateway.close().finally(resolve);
    };
    const onMessage = (raw: unknown): void => {
      if (!isGwMessage(raw)) return;
      const m = raw as ToWorker;
      if (m.type === 'gw:stop') stop();
      else if (m.type === 'gw:reload')
        gateway.reload(m.config).then(
          (r) => send({ type: 'gw:reloaded', seq: m.seq, applied: r.applied, needsRestart: r.needsRestart }),
          (err: unknown) =>
            send({
              type: 'gw:reload-failed',
              seq: m.seq,
              message: err instanceof Error ? err.message : String(err),
            }),
        );
    };
    process.on('message', onMessage);
    process.once('SIGTERM', stop);
    process.once('disconnect', stop);
    send({
      type: 'gw:ready',
      urls: [...gateway.urls],
      firstModel: gateway.registry.names()[0],
      auth: gateway.auth !== undefined,
    });
  });
  // The IPC channel must not keep a drained worker alive.
  if (process.connected) process.disconnect();
  return 0;
}

function ignore(): void {}
