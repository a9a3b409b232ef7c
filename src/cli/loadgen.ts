import { writeFileSync } from 'node:fs';
import { DEV_KEY_ENV } from '../config/dev-auth.js';
import { ConfigError } from '../config/errors.js';
import { CorpusError } from '../loadgen/corpus.js';
import { hardStopMs, LOADGEN_DEFAULTS, type AuthSource, type LoadgenOptions } from '../loadgen/options.js';
import { Progress } from '../loadgen/progress.js';
import { renderReport } from '../loadgen/report-html.js';
import { LoadgenError, runLoadgen } from '../loadgen/run.js';
import { renderTable } from '../loadgen/table.js';
import { intFlag, parseFlags, str, strs, UsageError, type Flags } from './args.js';
import { HELP } from './help.js';

const FLAGS = {
  url: { type: 'string' },
  developers: { type: 'string' },
  'duration-s': { type: 'string' },
  requests: { type: 'string' },
  mode: { type: 'string' },
  rate: { type: 'string' },
  protocol: { type: 'string' },
  cancel: { type: 'string' },
  'debounce-ms': { type: 'string' },
  'accept-rate': { type: 'string' },
  'max-tokens': { type: 'string' },
  engine: { type: 'string' },
  corpus: { type: 'string' },
  seed: { type: 'string' },
  token: { type: 'string' },
  key: { type: 'string' },
  config: { type: 'string' },
  uid: { type: 'string' },
  'stats-url': { type: 'string', multiple: true },
  'iki-mean-ms': { type: 'string' },
  'iki-sd-ms': { type: 'string' },
  'iki-cv': { type: 'string' },
  'pause-prob': { type: 'string' },
  'line-pause-prob': { type: 'string' },
  'pause-ms': { type: 'string' },
  'drain-s': { type: 'string' },
  insecure: { type: 'boolean' },
  json: { type: 'boolean' },
  report: { type: 'string' },
  log: { type: 'string' },
} as const;

/** Beyond the run's own bound (duration + drain): start-up (the embedded gateway, the token) and output. */
const WATCHDOG_MARGIN_MS = 30_000;

/** `ghostwire loadgen`: simulated developers typing against a gateway; a summary at the end. */
export async function loadgenCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.values.help === true) {
    out.write(HELP.loadgen);
    return 0;
  }
  if (flags.positionals.length > 0) throw new UsageError(`unexpected argument "${flags.positionals[0]}"`);
  const opts = optionsFromFlags(flags, process.env);
  const json = flags.values.json === true;
  const reportFile = str(flags, 'report');
  const logFile = str(flags, 'log');

  // It always stops by itself: this fires only if something wedges beyond every bound of the run.
  const watchdog = setTimeout(
    () => {
      process.stderr.write('ghostwire loadgen: still running past its hard stop; exiting\n');
      process.exit(1);
    },
    hardStopMs(opts) + WATCHDOG_MARGIN_MS,
  );
  watchdog.unref();

  const tty = progressStream(out, json);
  const progress = tty === undefined ? undefined : new Progress(tty, opts.durationS);
  // Ctrl-C: stop typing, let requests in flight finish, print the summary. A second one exits at once.
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const run = await runLoadgen(opts, {
      onStart: (recorder) => progress?.start(recorder),
      onStopSending: () => progress?.draining(),
      stop: stop.signal,
    });
    progress?.stop();
    const { result, recorder } = run;
    out.write(json ? `${JSON.stringify(result)}\n` : renderTable(result));
    const note = (line: string): void => void (json ? process.stderr : out).write(`${line}\n`);
    if (reportFile !== undefined) {
      writeFileSync(
        reportFile,
        renderReport(result, {
          ttft: recorder.ttft,
          completion: recorder.completion,
          atPause: recorder.atPause,
          cancelAge: recorder.cancelAge,
        }),
      );
      note(`report: ${reportFile}`);
    }
    if (logFile !== undefined) {
      writeFileSync(logFile, recorder.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
      note(`log: ${logFile} (${recorder.records.length} requests)`);
    }
    // Nothing worked at all: say so in the exit code (the table shows the errors by code).
    const worked = result.completed + result.cancelled.total + result.superseded;
    return result.requests > 0 && worked === 0 ? 1 : 0;
  } catch (err) {
    progress?.stop();
    if (err instanceof LoadgenError) {
      process.stderr.write(`ghostwire loadgen: ${err.message}\n`);
      return 1;
    }
    if (err instanceof CorpusError) throw new UsageError(err.message);
    if (err instanceof ConfigError) {
      process.stderr.write(`ghostwire loadgen: invalid config ${err.message}\n`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      process.stderr.write(`ghostwire loadgen: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    clearTimeout(watchdog);
  }
}

/** Where the live line goes: a terminal only (stderr first, so stdout stays clean for pipes). */
function progressStream(out: NodeJS.WritableStream, json: boolean): NodeJS.WriteStream | undefined {
  if (process.stderr.isTTY) return process.stderr;
  if (!json && out === process.stdout && process.stdout.isTTY) return process.stdout;
  return undefined;
}

/** Validates every flag once; the result is frozen and passed down typed. */
export function optionsFromFlags(flags: Flags, env: NodeJS.ProcessEnv): LoadgenOptions {
  const d = LOADGEN_DEFAULTS;
  const url = str(flags, 'url');
  if (url !== undefined) checkUrl(url, 'url');
  const statsUrls = strs(flags, 'stats-url');
  for (const u of statsUrls) checkUrl(u, 'stats-url');

  const rateFlag = num(str(flags, 'rate'), 'rate', 0.1, 100_000);
  const modeFlag = str(flags, 'mode');
  if (modeFlag !== undefined && modeFlag !== 'developers' && modeFlag !== 'rate')
    throw new UsageError(`--mode expects developers or rate, got "${modeFlag}"`);
  const mode = modeFlag ?? (rateFlag === undefined ? 'developers' : 'rate');
  if (mode === 'rate' && rateFlag === undefined)
    throw new UsageError('--mode rate needs --rate R (completions/s)');
  if (mode === 'developers' && rateFlag !== undefined)
    throw new UsageError('--rate goes with --mode rate (developers mode fires at each pause)');

  const protocol = str(flags, 'protocol') ?? d.protocol;
  if (protocol !== 'h2' && protocol !== 'h1')
    throw new UsageError(`--protocol expects h2 or h1, got "${protocol}"`);
  const cancel = str(flags, 'cancel') ?? (protocol === 'h1' ? 'close' : d.cancel);
  if (cancel !== 'reset' && cancel !== 'close' && cancel !== 'never')
    throw new UsageError(`--cancel expects reset, close or never, got "${cancel}"`);
  if (protocol === 'h1' && cancel === 'reset')
    throw new UsageError(
      'HTTP/1.1 cannot reset one request: use --cancel close (or never) with --protocol h1',
    );

  const engine = str(flags, 'engine') ?? d.engine;
  if (engine === '') throw new UsageError('--engine expects a name');

  return Object.freeze({
    url,
    developers: intFlag(str(flags, 'developers'), 'developers', 1, 100_000) ?? d.developers,
    mode,
    rate: rateFlag ?? 0,
    durationS: num(str(flags, 'duration-s'), 'duration-s', 0.1, 86_400) ?? d.durationS,
    requests: intFlag(str(flags, 'requests'), 'requests', 1, 100_000_000),
    drainMs: Math.round((num(str(flags, 'drain-s'), 'drain-s', 0, 600) ?? d.drainMs / 1000) * 1000),
    protocol,
    cancel,
    debounceMs: intFlag(str(flags, 'debounce-ms'), 'debounce-ms', 0, 10_000) ?? d.debounceMs,
    acceptRate: num(str(flags, 'accept-rate'), 'accept-rate', 0, 1) ?? d.acceptRate,
    maxTokens: intFlag(str(flags, 'max-tokens'), 'max-tokens', 1, 8192) ?? d.maxTokens,
    engine,
    prefixChars: d.prefixChars,
    suffixChars: d.suffixChars,
    typing: Object.freeze({
      ikiMeanMs: num(str(flags, 'iki-mean-ms'), 'iki-mean-ms', 10, 10_000) ?? d.typing.ikiMeanMs,
      ikiSdMs: num(str(flags, 'iki-sd-ms'), 'iki-sd-ms', 0, 10_000) ?? d.typing.ikiSdMs,
      ikiCv: num(str(flags, 'iki-cv'), 'iki-cv', 0, 5) ?? d.typing.ikiCv,
      pauseProb: num(str(flags, 'pause-prob'), 'pause-prob', 0, 1) ?? d.typing.pauseProb,
      linePauseProb: num(str(flags, 'line-pause-prob'), 'line-pause-prob', 0, 1) ?? d.typing.linePauseProb,
      pauseMeanMs: num(str(flags, 'pause-ms'), 'pause-ms', 0, 60_000) ?? d.typing.pauseMeanMs,
    }),
    seed: intFlag(str(flags, 'seed'), 'seed', 0, 2 ** 31 - 1) ?? d.seed,
    corpus: str(flags, 'corpus'),
    auth: authFrom(flags, url, env),
    statsUrls: Object.freeze(statsUrls),
    insecure: flags.values.insecure === true,
  });
}

function authFrom(flags: Flags, url: string | undefined, env: NodeJS.ProcessEnv): AuthSource {
  const token = str(flags, 'token');
  const key = str(flags, 'key');
  const config = str(flags, 'config');
  const uid = str(flags, 'uid');
  const given = [token, key, config].filter((v) => v !== undefined).length;
  if (given > 1) throw new UsageError('give one of --token, --key and --config');
  if (uid !== undefined && config === undefined) throw new UsageError('--uid goes with --config');
  if (given > 0 && url === undefined)
    throw new UsageError('--token, --key and --config need --url (without it the embedded gateway is used)');
  for (const [name, v] of [
    ['token', token],
    ['key', key],
    ['config', config],
    ['uid', uid],
  ] as const)
    if (v === '') throw new UsageError(`--${name} expects a value`);
  if (token !== undefined) return { kind: 'token', token };
  if (key !== undefined) return { kind: 'key', key };
  if (config !== undefined) return { kind: 'config', file: config, uid: uid ?? 'loadgen' };
  const envKey = env[DEV_KEY_ENV];
  if (url !== undefined && envKey !== undefined && envKey !== '') return { kind: 'key', key: envKey };
  return { kind: 'none' };
}

function num(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`--${name} expects a number from ${min} to ${max}, got "${value}"`);
  return n;
}

function checkUrl(value: string, name: string): void {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`--${name} expects a URL (http://host:port), got "${value}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`--${name} expects an http:// or https:// URL, got "${value}"`);
}
