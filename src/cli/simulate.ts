import { SIMULATOR_DEFAULTS, startSimulator, type Simulator } from '../simulator/index.js';
import { intFlag, parseFlags, str, UsageError } from './args.js';
import { HELP } from './help.js';

const FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'ttft-ms': { type: 'string' },
  'token-ms': { type: 'string' },
  slots: { type: 'string' },
  'max-tokens': { type: 'string' },
  'queue-limit': { type: 'string' },
  seed: { type: 'string' },
  'prefix-cache': { type: 'string' },
  'prefix-chars': { type: 'string' },
  'cached-ttft-ms': { type: 'string' },
  'api-key': { type: 'string' },
  'reject-suffix': { type: 'boolean' },
} as const;

/** `ghostwire simulate`: the model-server simulator on its own, until a signal. */
export async function simulateCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.values.help === true) {
    out.write(HELP.simulate);
    return 0;
  }
  if (flags.positionals.length > 0) throw new UsageError(`unexpected argument "${flags.positionals[0]}"`);
  const d = SIMULATOR_DEFAULTS;
  const cachedTtftMs = intFlag(str(flags, 'cached-ttft-ms'), 'cached-ttft-ms', 0, 600_000);
  const apiKey = str(flags, 'api-key');
  if (apiKey === '') throw new UsageError('--api-key expects a non-empty key');
  const options = {
    host: str(flags, 'host') ?? d.host,
    port: intFlag(str(flags, 'port'), 'port', 0, 65535) ?? d.port,
    ttftMs: intFlag(str(flags, 'ttft-ms'), 'ttft-ms', 0, 600_000) ?? d.ttftMs,
    tokenMs: intFlag(str(flags, 'token-ms'), 'token-ms', 0, 60_000) ?? d.tokenMs,
    slots: intFlag(str(flags, 'slots'), 'slots', 1, 100_000) ?? d.slots,
    maxTokens: intFlag(str(flags, 'max-tokens'), 'max-tokens', 1, 1_000_000) ?? d.maxTokens,
    queueLimit: intFlag(str(flags, 'queue-limit'), 'queue-limit', 0, 1_000_000) ?? d.queueLimit,
    seed: intFlag(str(flags, 'seed'), 'seed', 0, 2 ** 31 - 1) ?? d.seed ?? 0,
    prefixCacheEntries:
      intFlag(str(flags, 'prefix-cache'), 'prefix-cache', 0, 1_000_000) ?? d.prefixCacheEntries,
    prefixChars: intFlag(str(flags, 'prefix-chars'), 'prefix-chars', 1, 1_000_000) ?? d.prefixChars,
    // Left out when not given: it then follows --ttft-ms.
    ...(cachedTtftMs === undefined ? {} : { cachedTtftMs }),
    apiKey: apiKey ?? d.apiKey,
    rejectSuffix: flags.values['reject-suffix'] === true,
  };
  let sim: Simulator;
  try {
    sim = await startSimulator(options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      process.stderr.write(
        `ghostwire: cannot listen on ${options.host}:${options.port} (${code}); pick another with --port\n`,
      );
      return 1;
    }
    throw err;
  }
  out.write(`listening on ${sim.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      void sim.close().finally(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
