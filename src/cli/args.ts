import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command-line mistake: printed with a hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flags: string flags as strings (or arrays when repeatable), boolean flags as booleans. */
export interface Flags {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** Strict flag parsing: unknown flags and missing values are UsageErrors, never ignored. */
export function parseFlags(argv: string[], options: Options): Flags {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError(
      err instanceof Error ? err.message.replace(/\. To specify a positional.*$/s, '') : String(err),
    );
  }
}

/** An integer flag within bounds, or a UsageError naming the flag. */
export function intFlag(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} expects an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/** A single string flag's value. */
export function str(flags: Flags, name: string): string | undefined {
  const v = flags.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A repeatable string flag's values. */
export function strs(flags: Flags, name: string): string[] {
  const v = flags.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}
