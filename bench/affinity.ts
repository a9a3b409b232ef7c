// Cache affinity under load: a workload of editor sessions and files whose requests share prompt
// prefixes the way a real editor's do, and the prefix-cache hit rate the model servers saw for it.
//
// A Copilot client sends `VScode-SessionId` on every request, and every completion prompt for one
// file starts the same way (the `// Path:` line and the code above the cursor), while the end
// changes as the user types on. The gateway keys affinity on (session id, first ~256 prompt
// characters) so those requests reach the deployment whose prefix cache holds that file; the
// simulator's prefix cache (`ghostwire simulate --prefix-cache`) counts whether they did.
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { mulberry32 } from '../src/simulator/rng.js';
import { encodeHeaders } from './h2-client.js';
import {
  codeSnippet,
  completionJson,
  UNFINISHED_CODE,
  type ExtraHeaders,
  type WorkItem,
  type Workload,
} from './workload.js';

export interface AffinityOptions {
  sessions: number;
  files: number;
  maxTokens: number;
  /** Seeds which session, file and ending each request gets (the same sequence per seed). */
  seed: number;
  /**
   * Goes into every file's path so a run never hits prefixes an earlier run left in a simulator's
   * cache (a reset zeroes the counters, not the cache). Random unless given.
   */
  runTag?: string;
}

/** Bounds that keep the per-file prompt heads (~0.4 KB each, built on first use) small. */
export const AFFINITY_LIMITS = Object.freeze({ sessions: 10_000, files: 100, pairs: 100_000 });

/** Characters of fixed code after a file's path line: past the 256 that affinity and the cache key on. */
const FIXED_CODE_CHARS = 300;
/** Endings per file: the user has typed on by a different amount each time. */
const ENDINGS = 16;
const JSON_PROMPT_KEY = '{"prompt":';

/**
 * Each request: a random session, one of that session's files (uniformly), and one of 16 endings.
 * The body is the file's fixed head (cached) followed by a pre-encoded ending, joined as JSON
 * without re-encoding: two independently escaped string halves concatenate to one valid string.
 */
export class AffinityWorkload implements Workload {
  readonly #files: number;
  readonly #runTag: string;
  readonly #sessions: ExtraHeaders[];
  readonly #heads = new Map<number, Buffer>();
  readonly #endings: Buffer[];
  readonly #random: () => number;

  constructor(opts: AffinityOptions) {
    const { sessions, files } = opts;
    if (!isCount(sessions, AFFINITY_LIMITS.sessions) || !isCount(files, AFFINITY_LIMITS.files)) {
      throw new RangeError(
        `sessions must be 1..${AFFINITY_LIMITS.sessions} and files 1..${AFFINITY_LIMITS.files}, got ${sessions} and ${files}`,
      );
    }
    if (sessions * files > AFFINITY_LIMITS.pairs) {
      throw new RangeError(`sessions × files must be at most ${AFFINITY_LIMITS.pairs}`);
    }
    this.#files = files;
    this.#runTag = opts.runTag ?? randomBytes(4).toString('hex');
    this.#random = mulberry32(opts.seed);
    // VS Code's session id: a UUID followed by the start time in ms.
    this.#sessions = Array.from({ length: sessions }, () => {
      const fields = { 'vscode-sessionid': `${randomUUID()}${Date.now()}` };
      return { fields, hpack: encodeHeaders(fields) };
    });
    this.#endings = Array.from({ length: ENDINGS }, (_, i) => {
      const typed = `${codeSnippet(i * 3, 1024 + ((i * 131) % 2048))}\n${UNFINISHED_CODE}`;
      // The whole body with the typed text as its prompt, minus `{"prompt":"`: the rest of the string
      // and every other field.
      return Buffer.from(completionJson(typed, opts.maxTokens).slice(JSON_PROMPT_KEY.length + 1));
    });
  }

  /** The session id header of session `s`. */
  sessionId(s: number): string {
    return this.#sessions[s]?.fields['vscode-sessionid'] ?? '';
  }

  /** What every prompt for file `f` of session `s` starts with: longer than the cache key. */
  filePrefix(s: number, f: number): string {
    const path = `// Path: ws-${this.#runTag}/src/file_${s}_${f}.ts`;
    return `${path}\n${codeSnippet(s * 7 + f * 13, FIXED_CODE_CHARS)}\n`;
  }

  next(): WorkItem {
    const s = Math.floor(this.#random() * this.#sessions.length);
    const f = Math.floor(this.#random() * this.#files);
    const ending = this.#endings[Math.floor(this.#random() * ENDINGS)];
    const headers = this.#sessions[s];
    if (ending === undefined || headers === undefined) throw new Error('unreachable: index in range');
    return { body: Buffer.concat([this.#head(s, f), ending]), headers };
  }

  #head(s: number, f: number): Buffer {
    const key = s * this.#files + f;
    let head = this.#heads.get(key);
    if (head === undefined) {
      // `{"prompt":"<escaped prefix>` — the string left open for the ending.
      head = Buffer.from(JSON_PROMPT_KEY + JSON.stringify(this.filePrefix(s, f)).slice(0, -1));
      this.#heads.set(key, head);
    }
    return head;
  }
}

function isCount(n: number, max: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= max;
}

/** Prefix-cache lookups the simulators counted during the measured phase, summed over them. */
export interface PrefixCacheResult {
  hits: number;
  misses: number;
  /** hits / (hits + misses); null when nothing was looked up (cache off, or nothing sent). */
  hitRate: number | null;
}

/** One simulator's prefix-cache counters at one moment. */
export interface PrefixCounters {
  hits: number;
  misses: number;
}

const STATS_TIMEOUT_MS = 5000;

/** Reads `prefix_cache_hits`/`misses` from each simulator's GET /stats (a bare origin gets /stats). */
export function readPrefixCounters(urls: readonly string[]): Promise<PrefixCounters[]> {
  return Promise.all(urls.map(readOne));
}

/**
 * The counts between two readings, summed. Deltas rather than a reset, so whoever else reads or
 * resets the simulators' stats is not disturbed; if a simulator was reset in between (its counter
 * went down), its count since that reset is what is left to go on.
 */
export function prefixCacheBetween(
  before: readonly PrefixCounters[],
  after: readonly PrefixCounters[],
): PrefixCacheResult {
  let hits = 0;
  let misses = 0;
  after.forEach((a, i) => {
    const b = before[i] ?? { hits: 0, misses: 0 };
    hits += a.hits >= b.hits ? a.hits - b.hits : a.hits;
    misses += a.misses >= b.misses ? a.misses - b.misses : a.misses;
  });
  const lookups = hits + misses;
  return { hits, misses, hitRate: lookups === 0 ? null : Math.round((hits / lookups) * 10_000) / 10_000 };
}

function readOne(raw: string): Promise<PrefixCounters> {
  const url = new URL(raw);
  if (url.pathname === '/') url.pathname = '/stats';
  return new Promise((resolve, reject) => {
    // A fresh connection (agent: false): nothing is left open to keep the load client alive.
    const req = http.get(url, { agent: false, timeout: STATS_TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
          const stats = JSON.parse(text) as { prefix_cache_hits?: unknown; prefix_cache_misses?: unknown };
          const { prefix_cache_hits: hits, prefix_cache_misses: misses } = stats;
          if (typeof hits !== 'number' || typeof misses !== 'number')
            throw new Error('no prefix_cache_hits/prefix_cache_misses (not a ghostwire simulator?)');
          resolve({ hits, misses });
        } catch (err) {
          reject(new Error(`--stats-url ${raw}: ${err instanceof Error ? err.message : String(err)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${STATS_TIMEOUT_MS} ms`)));
    req.on('error', (err) => reject(new Error(`--stats-url ${raw}: ${err.message}`)));
  });
}
