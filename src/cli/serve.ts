import cluster from 'node:cluster';
import os from 'node:os';
import { devAuth, DEV_KEY_ENV, type DevCredentials } from '../config/dev-auth.js';
import { configForEmbedded, configForUpstreams, routesForUpstreams } from '../config/from-flags.js';
import { ConfigError } from '../config/errors.js';
import { withIsolatedConfig } from '../config/isolated.js';
import type { GatewayConfig, GatewayConfigInput } from '../config/schema.js';
import { startGateway } from '../server/gateway.js';
import type { ReloadResult } from '../server/reload-plan.js';
import { skipDeprecatedBindAccessor } from '../server/node-workarounds.js';
import { logHealthChanges } from '../telemetry/health-log.js';
import { logLimitsStore } from '../telemetry/limits-log.js';
import type { Simulator } from '../simulator/index.js';
import { intFlag, parseFlags, str, strs, UsageError } from './args.js';
import { SUPERVISED_ENV } from './launcher.js';
import { HELP } from './help.js';
import type { GatewayFacts } from './worker-messages.js';

const FLAGS = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  upstream: { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'no-auth': { type: 'boolean' },
  watch: { type: 'boolean' },
  workers: { type: 'string' },
} as const;

/** The most worker processes `--workers` takes (more than cores only adds context switches). */
const MAX_WORKERS = 64;

/** What serving needs from either a gateway in this process or a pool of worker processes. */
interface Serving {
  facts: GatewayFacts;
  /** The worker processes' pids (`--workers N`); empty when the gateway runs in this process. */
  readonly workerPids: number[];
  graceMs: number;
  reload(next: GatewayConfig): Promise<ReloadResult>;
  close(): Promise<void>;
}

const TRY_PROMPT = 'def fibonacci(n):\n    if n < 2:\n        return n\n    return ';

/** `ghostwire serve`: resolves config from flags, starts the gateway, runs until a signal. */
export async function serveCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  // A worker of `--workers N`: the primary sends it the config.
  if (cluster.isWorker) {
    const { runWorker } = await import('./serve-worker.js');
    return runWorker();
  }
  const flags = parseFlags(argv, FLAGS);
  if (flags.values.help === true) {
    out.write(HELP.serve);
    return 0;
  }
  if (flags.positionals.length > 0) throw new UsageError(`unexpected argument "${flags.positionals[0]}"`);
  const port = intFlag(str(flags, 'port'), 'port', 0, 65535);
  const host = str(flags, 'host');
  const tlsCert = str(flags, 'tls-cert');
  const tlsKey = str(flags, 'tls-key');
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new UsageError('--tls-cert and --tls-key go together');
  const upstreams = strs(flags, 'upstream');
  const configFile = str(flags, 'config');
  const noAuth = flags.values['no-auth'] === true;
  const watchFile = flags.values.watch === true;
  if (watchFile && configFile === undefined) throw new UsageError('--watch needs --config');
  const workersFlag = str(flags, 'workers');
  const workers =
    workersFlag === 'auto'
      ? Math.min(MAX_WORKERS, os.availableParallelism())
      : (intFlag(workersFlag, 'workers', 1, MAX_WORKERS) ?? 1);
  skipDeprecatedBindAccessor();

  if (configFile !== undefined) process.on('SIGHUP', ignoreSighup);
  let simulator: Simulator | undefined;
  // Without a config file there is one dev user whose key is printed (or taken from the env).
  let dev: DevCredentials | undefined;
  // Flags override the file, the same way at start and on every SIGHUP reload.
  const withFlags = (base: GatewayConfigInput | GatewayConfig): GatewayConfigInput | GatewayConfig => {
    let out = base;
    if (configFile !== undefined && upstreams.length > 0) out = { ...out, ...routesForUpstreams(upstreams) };
    if (configFile !== undefined && noAuth) out = { ...out, auth: { mode: 'none' } };
    const first = out.listeners?.[0] ?? { host: '127.0.0.1', port: 8080 };
    const listener = {
      ...first,
      ...(host === undefined ? {} : { host }),
      ...(port === undefined ? {} : { port }),
      ...(tlsCert === undefined || tlsKey === undefined
        ? {}
        : { tls: { certFile: tlsCert, keyFile: tlsKey } }),
    };
    return { ...out, listeners: [listener, ...(out.listeners?.slice(1) ?? [])] };
  };
  try {
    const config = await withIsolatedConfig(async (isolated) => {
      let input: GatewayConfigInput | GatewayConfig;
      if (configFile !== undefined) input = structuredClone(await isolated.load(configFile));
      else {
        const d = devAuth();
        dev = noAuth ? undefined : d.credentials;
        const auth = noAuth ? { mode: 'none' as const } : d.auth;
        if (upstreams.length > 0) input = configForUpstreams(upstreams, auth);
        else {
          // Only the embedded default runs the simulator in-process; other gateways never load it.
          const { startSimulator } = await import('../simulator/index.js');
          simulator = await startSimulator({ host: '127.0.0.1', port: 0 });
          input = configForEmbedded(simulator.port, auth);
        }
      }
      return isolated.validate(withFlags(input), configFile ?? 'flags');
    });

    let serving: Serving;
    try {
      serving = workers > 1 ? await startWorkers(workers, config) : await startInProcess(config);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') {
        const l = config.listeners[0];
        process.stderr.write(
          `ghostwire: cannot listen on ${l?.host}:${l?.port} (${code}); pick another with --port\n`,
        );
        await simulator?.close();
        return 1;
      }
      throw err;
    }
    // Signal handlers first: whoever reads "listening on" may stop us at once.
    const stopped = waitForSignal(serving, simulator);
    for (const url of serving.facts.urls) out.write(`listening on ${url}\n`);
    if (workers > 1)
      out.write(`workers: ${workers} processes share the port (pids ${serving.workerPids.join(', ')})\n`);
    printWelcome(out, serving.facts, simulator, dev);
    let unwatch: (() => void) | undefined;
    if (configFile !== undefined) {
      const reload = reloader(
        serving,
        () =>
          withIsolatedConfig(async (c) =>
            c.validate(withFlags(structuredClone(await c.load(configFile))), configFile),
          ),
        configFile,
      );
      process.removeListener('SIGHUP', ignoreSighup);
      process.on('SIGHUP', () => reload('SIGHUP'));
      if (watchFile) {
        const { watchConfigFile } = await import('./config-watch.js');
        unwatch = await watchConfigFile(configFile, () => reload('file changed'));
      }
    }
    await stopped;
    unwatch?.();
    return 0;
  } catch (err) {
    await simulator?.close();
    if (err instanceof ConfigError) {
      process.stderr.write(`ghostwire: invalid config ${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError) throw err;
    if (err instanceof Error && err.name === 'WorkerStartError') {
      process.stderr.write(`ghostwire: a worker could not start: ${err.message}\n`);
      return 1;
    }
    // Secrets that cannot be resolved, unreadable TLS files: operator errors, not crashes.
    const code = (err as NodeJS.ErrnoException).code;
    if (
      err instanceof Error &&
      (code === 'ENOENT' || code === 'EACCES' || /environment variable|secret file/.test(err.message))
    ) {
      process.stderr.write(`ghostwire: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

/** The gateway in this process (the default: one process). */
async function startInProcess(config: GatewayConfig): Promise<Serving> {
  const gateway = await startGateway(config);
  logHealthChanges((line) => process.stderr.write(line));
  logLimitsStore((line) => process.stderr.write(line));
  return {
    facts: {
      urls: [...gateway.urls],
      firstModel: gateway.registry.names()[0],
      auth: gateway.auth !== undefined,
    },
    workerPids: [],
    get graceMs() {
      return gateway.config.limits.shutdownGraceMs;
    },
    reload: (next) => gateway.reload(next),
    close: () => gateway.close(),
  };
}

/** `--workers N`: N worker processes share the port; this process supervises them. */
async function startWorkers(n: number, config: GatewayConfig): Promise<Serving> {
  const { WorkerPool } = await import('./worker-pool.js');
  const pool = new WorkerPool(n, config, (line) => process.stderr.write(line));
  const facts = await pool.start();
  let current = config;
  return {
    facts,
    get workerPids() {
      return pool.pids;
    },
    get graceMs() {
      return current.limits.shutdownGraceMs;
    },
    reload: async (next) => {
      const result = await pool.reload(next);
      current = next;
      return result;
    },
    close: () => pool.stop(current.limits.shutdownGraceMs),
  };
}

function printWelcome(
  out: NodeJS.WritableStream,
  gateway: GatewayFacts,
  simulator: Simulator | undefined,
  dev: DevCredentials | undefined,
): void {
  const url = gateway.urls[0] ?? '';
  const cleartext = url.startsWith('http:');
  if (simulator !== undefined) {
    out.write(`upstream: embedded model simulator at ${simulator.url} (model "default")\n`);
  }
  const model = simulator !== undefined ? 'default' : (gateway.firstModel ?? 'default');
  const body = JSON.stringify({ prompt: TRY_PROMPT, max_tokens: 48, stream: true });
  const curl = `curl -sSN ${cleartext ? '--http2-prior-knowledge' : '--http2 -k'}`;
  const completion =
    `${curl} ${url}/v1/engines/${model === '*' ? 'default' : model}/completions \\\n` +
    (!gateway.auth ? '' : `    -H "authorization: Bearer $TOKEN" \\\n`) +
    `    -H 'content-type: application/json' \\\n    -d '${body.replace(/'/g, "'\\''")}'\n\n`;
  if (!gateway.auth) {
    out.write(`\nauth: off (--no-auth or auth.mode none): anyone who can reach this port can use it\n`);
    out.write(`\nStream a completion:\n  ${completion}`);
    return;
  }
  if (dev === undefined) {
    out.write(`\nGet a token with your credential, then stream a completion:\n`);
    out.write(
      `  TOKEN=$(curl -s ${cleartext ? '' : '-k '}${url}/copilot_internal/v2/token -H "authorization: token $YOUR_API_KEY" | sed -E 's/.*"token":"([^"]+)".*/\\1/')\n`,
    );
    out.write(`  ${completion}`);
    return;
  }
  // The dev key is printed once, here, because a newcomer needs it; a key from the env is only named.
  const key = dev.fromEnv ? `$${DEV_KEY_ENV}` : dev.apiKey;
  out.write(
    `\ndev user "${dev.uid}", API key ${dev.fromEnv ? `from ${DEV_KEY_ENV}` : `${dev.apiKey} (random; set ${DEV_KEY_ENV} to fix it)`}\n` +
      `\nGet a token, then stream a completion:\n` +
      `  TOKEN=$(curl -s ${cleartext ? '' : '-k '}${url}/copilot_internal/v2/token -H "authorization: token ${key}" | sed -E 's/.*"token":"([^"]+)".*/\\1/')\n` +
      `  ${completion}`,
  );
}

/** Until the gateway is up, a SIGHUP (its default action: exit) must not kill a starting process. */
function ignoreSighup(): void {
  process.stderr.write('ghostwire: SIGHUP ignored: still starting\n');
}

/**
 * Re-reads the config file (on SIGHUP, or when --watch sees it change) and applies it to new
 * requests: deployments, models, routing, policy, protocols, limits, auth keys, TLS certificates.
 * Requests in flight finish on the config they started with. A file that does not validate, or
 * whose secrets cannot be read, changes nothing: its errors are logged and the old config stays.
 */
function reloader(
  gateway: Pick<Serving, 'reload'>,
  load: () => Promise<GatewayConfig>,
  file: string,
): (why: string) => void {
  // Reloads run one after another, in trigger order: the last file read is the one in force.
  let queue = Promise.resolve();
  const reload = async (why: string): Promise<void> => {
    try {
      const { applied, needsRestart } = await gateway.reload(await load());
      process.stderr.write(
        `ghostwire: ${why}: reloaded ${file}: ${applied.length > 0 ? `applied ${applied.join(', ')}` : 'no changes'}` +
          (needsRestart.length > 0 ? `; changed but needs a restart: ${needsRestart.join(', ')}` : '') +
          '\n',
      );
    } catch (err) {
      const msg =
        err instanceof ConfigError
          ? `invalid config ${err.message}`
          : err instanceof Error
            ? err.message
            : String(err);
      process.stderr.write(`ghostwire: ${why}: reload refused, still running the previous config: ${msg}\n`);
    }
  };
  return (why) => {
    queue = queue.then(() => reload(why));
  };
}

/** Runs until SIGINT/SIGTERM, then drains gracefully; a second signal exits at once. */
function waitForSignal(gateway: Serving, simulator: Simulator | undefined): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write(`ghostwire: ${signal}: draining (grace ${gateway.graceMs} ms)\n`);
      void gateway
        .close()
        .then(() => simulator?.close())
        .finally(() => {
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
          process.removeListener('disconnect', onLauncherGone);
          resolve();
        });
    };
    // Started by the launcher (launcher.ts): a terminal's Ctrl-C reaches us directly and again,
    // as SIGTERM, through the launcher; only the second counts. If the launcher dies, drain.
    const supervised = process.env[SUPERVISED_ENV] === '1' && process.channel !== undefined;
    const onLauncherGone = (): void => onSignal('SIGTERM');
    if (supervised) {
      process.channel?.unref(); // the lifeline must not keep the process alive once drained
      process.on('disconnect', onLauncherGone);
    }
    process.on('SIGINT', supervised ? ignoreSignal : onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function ignoreSignal(): void {}
