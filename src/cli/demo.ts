import { DEMO_DEFAULTS, DemoUnavailableError, runRegionsDemo, type DemoResult } from '../demo/regions.js';
import { renderResult } from '../demo/table.js';
import { intFlag, parseFlags, str, UsageError } from './args.js';
import { HELP } from './help.js';

const FLAGS = {
  regions: { type: 'string' },
  'duration-s': { type: 'string' },
  rate: { type: 'string' },
  sims: { type: 'string' },
  'max-move-ms': { type: 'string' },
  json: { type: 'boolean' },
  log: { type: 'string' },
} as const;

/** `ghostwire demo regions`: exit 0 when every expectation held, 1 when one did not (or it cannot run here). */
export async function demoCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.values.help === true) {
    out.write(HELP.demo);
    return 0;
  }
  const [what, ...extra] = flags.positionals;
  if (what !== 'regions')
    throw new UsageError(what === undefined ? 'which demo? (regions)' : `unknown demo "${what}"`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const d = DEMO_DEFAULTS;
  const options = {
    ...d,
    regions: intFlag(str(flags, 'regions'), 'regions', 2, 3) ?? d.regions,
    phaseMs: (intFlag(str(flags, 'duration-s'), 'duration-s', 2, 60) ?? d.phaseMs / 1000) * 1000,
    ratePerS: intFlag(str(flags, 'rate'), 'rate', 1, 200) ?? d.ratePerS,
    simsPerRegion: intFlag(str(flags, 'sims'), 'sims', 1, 4) ?? d.simsPerRegion,
    maxMoveMs: intFlag(str(flags, 'max-move-ms'), 'max-move-ms', 100, 60_000) ?? d.maxMoveMs,
    ...(str(flags, 'log') === undefined ? {} : { logFile: str(flags, 'log') as string }),
  };
  const json = flags.values.json === true;
  const t0 = performance.now();
  const progress = (line: string): void => {
    process.stderr.write(`demo [${((performance.now() - t0) / 1000).toFixed(1)} s]: ${line}\n`);
  };

  // Ctrl-C stops the run; cleanup still runs to the end (a second Ctrl-C is only acknowledged).
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (abort.signal.aborted) progress(`${signal}: still cleaning up`);
    else {
      progress(`${signal}: stopping`);
      abort.abort(new Error(`interrupted by ${signal}`));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result: DemoResult;
  try {
    result = await runRegionsDemo(options, progress, abort.signal);
  } catch (err) {
    if (err instanceof DemoUnavailableError) {
      process.stderr.write(`ghostwire demo regions: cannot run here: ${err.reason}\n`);
      return 1;
    }
    if (abort.signal.aborted) {
      progress('interrupted; everything it started is gone');
      return 130;
    }
    process.stderr.write(`ghostwire demo regions: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  if (json) out.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const links = result.links.map((l) => `${l.a}-${l.b} ${l.rttMs} ms`).join(', ');
    out.write(
      `\nghostwire demo regions: ${result.regions.length} regions, ${result.simsPerRegion} simulators each, ` +
        `${result.ratePerRegionPerS} req/s of users per region, ${result.phaseMs / 1000} s per phase\n` +
        `round trips: in-region ${result.inRegionRttMs} ms, ${links} ` +
        (result.delayMode === 'netem'
          ? '(tc netem between regions)'
          : `(userspace delay links; tc netem unavailable: ${result.netemUnavailable ?? '?'})`) +
        `\n\n${renderResult(result)}`,
    );
  }
  return result.ok ? 0 : 1;
}
