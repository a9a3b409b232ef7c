import type { Corpus } from './corpus.js';
import type { GpuReport } from './gpu.js';
import type { CancelMode, LoadgenOptions } from './options.js';
import type { Recorder } from './recorder.js';
import { quantile, summarize, type Summary } from './summary-stats.js';
import type { TypingParams } from './typing.js';

/** One second of the timeline. */
export interface TimelinePoint {
  second: number;
  requests: number;
  completions: number;
  cancels: number;
  errors: number;
  ttft_p50: number | null;
  ttft_p99: number | null;
}

/** A run's outcome: what the table shows and `--json` prints (docs/loadgen.md explains each field). */
export interface LoadgenResult {
  target: string;
  embedded: boolean;
  protocol: 'h2' | 'h1';
  cancel: CancelMode;
  mode: 'developers' | 'rate';
  developers: number;
  /** Requests/s asked for (rate mode), else null. */
  rate: number | null;
  duration_s: number;
  /** Seconds the developers typed (less than duration_s when --requests ran out first). */
  sending_s: number;
  /** Seconds from the first key to the end of the drain. */
  elapsed_s: number;
  seed: number;
  debounce_ms: number;
  accept_rate: number;
  max_tokens: number;
  engine: string;
  corpus: { files: number; bytes: number };
  typing: TypingParams;
  keys: number;
  requests: number;
  completed: number;
  cancelled: { total: number; reset: number; close: number };
  superseded: number;
  /** Completions that ended after their developer typed on (--cancel never): work nobody saw. */
  stale: number;
  /** Completions that finished before the developer's next key (the ghost text was there). */
  shown: number;
  accepted: number;
  /** Still running when the drain time ran out; cut by the load generator. */
  unfinished: number;
  errors: { total: number; by_code: Record<string, number> };
  latency_ms: {
    /** Request sent → first token. */
    first_token: Summary;
    /** Request sent → end of stream, completed requests. */
    completion: Summary;
    /** Developer's last key → first token (debounce + first token): what the developer waits. */
    at_pause: Summary | null;
    /** Request sent → the client cancelled it (its age when given up on). */
    cancel_age: Summary;
  };
  throughput: { requests_per_s: number; completions_per_s: number };
  /** Summed over the simulators read (--stats-url, or the embedded one); null without any. */
  gpu: GpuReport | null;
  records_dropped: number;
  timeline: TimelinePoint[];
}

export interface ResultInput {
  opts: LoadgenOptions;
  target: string;
  embedded: boolean;
  corpus: Corpus;
  recorder: Recorder;
  sendingS: number;
  elapsedS: number;
  gpu: GpuReport | undefined;
}

const round = (v: number, digits = 2): number => Math.round(v * 10 ** digits) / 10 ** digits;

export function buildResult(input: ResultInput): LoadgenResult {
  const { opts, recorder: r } = input;
  const per = (n: number): number => (input.sendingS > 0 ? round(n / input.sendingS, 1) : 0);
  return {
    target: input.target,
    embedded: input.embedded,
    protocol: opts.protocol,
    cancel: opts.cancel,
    mode: opts.mode,
    developers: opts.developers,
    rate: opts.mode === 'rate' ? opts.rate : null,
    duration_s: opts.durationS,
    sending_s: round(input.sendingS),
    elapsed_s: round(input.elapsedS),
    seed: opts.seed,
    debounce_ms: opts.debounceMs,
    accept_rate: opts.acceptRate,
    max_tokens: opts.maxTokens,
    engine: opts.engine,
    corpus: { files: input.corpus.files.length, bytes: input.corpus.bytes },
    typing: { ...opts.typing },
    keys: r.keys,
    requests: r.sent,
    completed: r.completed,
    cancelled: { total: r.cancelled, reset: r.cancelledReset, close: r.cancelledClose },
    superseded: r.superseded,
    stale: r.stale,
    shown: r.shown,
    accepted: r.accepted,
    unfinished: r.unfinished,
    errors: {
      total: r.errorCount,
      by_code: Object.fromEntries([...r.errors.entries()].sort((a, b) => b[1] - a[1])),
    },
    latency_ms: {
      first_token: summarize(r.ttft),
      completion: summarize(r.completion),
      at_pause: opts.mode === 'developers' ? summarize(r.atPause) : null,
      cancel_age: summarize(r.cancelAge),
    },
    throughput: { requests_per_s: per(r.sent), completions_per_s: per(r.completed) },
    gpu: input.gpu ?? null,
    records_dropped: r.recordsDropped,
    timeline: r.buckets.map((b, second) => {
      const sorted = Float64Array.from(b.ttft).sort();
      const q = (p: number): number | null => {
        const v = quantile(sorted, p);
        return v === undefined ? null : round(v);
      };
      return {
        second,
        requests: b.requests,
        completions: b.completions,
        cancels: b.cancels,
        errors: b.errors,
        ttft_p50: q(0.5),
        ttft_p99: q(0.99),
      };
    }),
  };
}
