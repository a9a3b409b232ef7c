import { CancelLog, type CancelAgeSummary } from './cancel-log.js';
import type { FimTemplateName } from './prompt.js';
import type { SchedulerGauges } from './scheduler.js';

/** Counters a test or benchmark reads to see what the simulated GPU actually did. */
export interface SimulatorStats {
  /** Completion requests received (any outcome). */
  requests: number;
  /** Generations that ran to their end and were delivered. */
  completed: number;
  /** Requests whose client went away before the response ended (counted once each). */
  cancelled: number;
  /** Every token produced, including those produced after the client had gone. */
  tokens_generated: number;
  /** Tokens produced for a request whose client had already gone: wasted GPU work. */
  tokens_after_cancel: number;
  /** Generations holding a slot right now. */
  active: number;
  /** Requests waiting for a slot right now. */
  queued: number;
  /** Most generations holding a slot at once since start or the last reset (never above slots). */
  peak_active: number;
  /** Most requests waiting for a slot at once since start or the last reset. */
  peak_queued: number;
  /** Requests refused with 503 because the queue was full. */
  rejected: number;
  /** Requests answered with an error (bad body, injected status) or aborted by an injected fault. */
  errors: number;
  /** Generations whose prompt prefix was in the prefix cache when they got a slot. */
  prefix_cache_hits: number;
  /** Generations whose prompt prefix was not cached (it is now); 0 with the cache disabled. */
  prefix_cache_misses: number;
  /**
   * Valid requests whose prompt was built from a FIM template, by template. Present only once one
   * was seen since start or the last reset, so readers of the fields above see the same object.
   */
  fim_templates?: Partial<Record<FimTemplateName, number>>;
  /**
   * How old cancelled requests were when the simulator noticed their client had gone (ms from
   * arrival), over the most recent ones (docs/simulator.md). Always present in a snapshot; optional
   * in the type so stats recorded before it existed still read as SimulatorStats.
   */
  cancel_age_ms?: CancelAgeSummary;
}

type CounterName = Exclude<
  keyof SimulatorStats,
  'active' | 'queued' | 'peak_active' | 'peak_queued' | 'fim_templates' | 'cancel_age_ms'
>;

/** The monotonic counters; `active`/`queued` and their peaks are gauges owned by the scheduler. */
export class SimulatorCounters {
  requests = 0;
  completed = 0;
  cancelled = 0;
  tokens_generated = 0;
  tokens_after_cancel = 0;
  rejected = 0;
  errors = 0;
  prefix_cache_hits = 0;
  prefix_cache_misses = 0;
  #fimTemplates: Partial<Record<FimTemplateName, number>> | undefined;
  /** The most recent cancels with their request ids (GET /stats/cancels). */
  readonly cancels = new CancelLog();

  /**
   * Counts a request whose client went away: `arrivedAt` is when it arrived, `goneAt` when the
   * transport reported the client gone (undefined: noticed only now). Both performance.now().
   */
  cancel(requestId: string | undefined, arrivedAt: number, goneAt: number | undefined): void {
    this.cancelled++;
    this.cancels.record(requestId, arrivedAt, goneAt ?? performance.now());
  }

  countFimTemplate(name: FimTemplateName): void {
    const counts = (this.#fimTemplates ??= {});
    counts[name] = (counts[name] ?? 0) + 1;
  }

  /** Zeroes the counters (gauges are live values and are not touched). */
  reset(): void {
    for (const key of COUNTERS) this[key] = 0;
    this.#fimTemplates = undefined;
    this.cancels.clear();
  }

  /** A plain copy combined with the scheduler's gauges. */
  snapshot(gauges: SchedulerGauges): SimulatorStats {
    const stats: SimulatorStats = {
      requests: this.requests,
      completed: this.completed,
      cancelled: this.cancelled,
      tokens_generated: this.tokens_generated,
      tokens_after_cancel: this.tokens_after_cancel,
      active: gauges.active,
      queued: gauges.queued,
      peak_active: gauges.peakActive,
      peak_queued: gauges.peakQueued,
      rejected: this.rejected,
      errors: this.errors,
      prefix_cache_hits: this.prefix_cache_hits,
      prefix_cache_misses: this.prefix_cache_misses,
      cancel_age_ms: this.cancels.summary(),
    };
    if (this.#fimTemplates !== undefined) stats.fim_templates = { ...this.#fimTemplates };
    return stats;
  }
}

const COUNTERS: readonly CounterName[] = [
  'requests',
  'completed',
  'cancelled',
  'tokens_generated',
  'tokens_after_cancel',
  'rejected',
  'errors',
  'prefix_cache_hits',
  'prefix_cache_misses',
];
