/** Knobs of the simulated model server. Times are milliseconds; counts are per simulator. */
export interface SimulatorOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Delay between a request getting a slot and its first token (prefill). */
  ttftMs: number;
  /** Delay between two tokens of one choice (decode step). */
  tokenMs: number;
  /** Generations that run at once: the GPU's batch size. */
  slots: number;
  /** Upper bound on any request's max_tokens. */
  maxTokens: number;
  /** Requests allowed to wait for a slot; beyond that the simulator answers 503. */
  queueLimit: number;
  /** Mixed into the text generator so runs are reproducible. */
  seed?: number;
  /** Prompt prefixes the prefix cache remembers (least recently used evicted); 0 = no cache. */
  prefixCacheEntries: number;
  /** Leading prompt characters that make a prefix cache key. */
  prefixChars: number;
  /** Time to first token when the prompt's prefix is cached (prefill mostly skipped); default ttftMs. */
  cachedTtftMs?: number;
  /** A key every completion request must present (as its format does: Bearer, or Azure's api-key); '' = none. */
  apiKey: string;
  /** vLLM's strictness on /v1/completions: a `suffix` is refused with 400, errors are vLLM's. */
  rejectSuffix: boolean;
}

export const SIMULATOR_DEFAULTS: SimulatorOptions = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  ttftMs: 40,
  tokenMs: 8,
  slots: 64,
  maxTokens: 256,
  queueLimit: 1024,
  prefixCacheEntries: 1024,
  // What the gateway's cache affinity keys on by default (routing.affinity.promptChars).
  prefixChars: 256,
  apiKey: '',
  rejectSuffix: false,
});

/** Options after validation: every field present, frozen. */
export type ResolvedSimulatorOptions = Readonly<Required<SimulatorOptions>>;

/** Merges with the defaults, reports every invalid field at once, and freezes the result. */
export function resolveSimulatorOptions(partial: Partial<SimulatorOptions> = {}): ResolvedSimulatorOptions {
  // cachedTtftMs: a placeholder so the key is known; it follows ttftMs unless given (below).
  const merged: Required<SimulatorOptions> = { ...SIMULATOR_DEFAULTS, seed: 0, cachedTtftMs: 0 };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(partial)) {
    if (!Object.hasOwn(merged, key)) problems.push(`${key}: unknown option`);
    // Callers spread CLI/config objects in here; an explicit undefined means "use the default".
    else if (value !== undefined) Object.assign(merged, { [key]: value });
  }
  // Unset, a cache hit changes nothing about timing: only the hit counters tell it apart.
  if (partial.cachedTtftMs === undefined) merged.cachedTtftMs = merged.ttftMs;

  const check = (key: keyof SimulatorOptions, ok: boolean, want: string): void => {
    if (!ok) problems.push(`${key}: expected ${want}, got ${JSON.stringify(merged[key])}`);
  };
  const int = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): boolean =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
  const ms = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

  check('host', typeof merged.host === 'string' && merged.host.length > 0, 'a non-empty string');
  check('port', int(merged.port, 0, 65535), 'an integer 0..65535');
  check('ttftMs', ms(merged.ttftMs), 'a finite number >= 0');
  check('tokenMs', ms(merged.tokenMs), 'a finite number >= 0');
  check('slots', int(merged.slots, 1), 'an integer >= 1');
  check('maxTokens', int(merged.maxTokens, 1), 'an integer >= 1');
  check('queueLimit', int(merged.queueLimit, 0), 'an integer >= 0');
  check('seed', int(merged.seed, 0, 0xffffffff), 'an integer 0..2^32-1');
  check('prefixCacheEntries', int(merged.prefixCacheEntries, 0), 'an integer >= 0');
  check('prefixChars', int(merged.prefixChars, 1), 'an integer >= 1');
  check('cachedTtftMs', ms(merged.cachedTtftMs), 'a finite number >= 0');
  check('apiKey', typeof merged.apiKey === 'string', 'a string');
  check('rejectSuffix', typeof merged.rejectSuffix === 'boolean', 'a boolean');
  if (problems.length > 0) throw new RangeError(`invalid simulator options: ${problems.join('; ')}`);
  return Object.freeze(merged);
}
