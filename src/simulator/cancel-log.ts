/** One cancel as the simulator saw it: which request, when it noticed, and how old the request was. */
export interface CancelRecord {
  /** The request's `x-request-id` header (the gateway forwards the client's), or null without one. */
  request_id: string | null;
  /** When the simulator noticed the client had gone: performance.timeOrigin + performance.now(), ms. */
  at_ms: number;
  /** Milliseconds from the request's arrival to that moment. */
  age_ms: number;
}

/** Percentiles of the recent cancel ages, ms; null while there are none. */
export interface CancelAgeSummary {
  /** Ages the percentiles are taken over: the most recent ones, at most CANCEL_LOG_LIMIT. */
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

/** Recent cancels kept, whatever the traffic: memory stays bounded. */
export const CANCEL_LOG_LIMIT = 10_000;

/**
 * The most recent cancels, in a ring. Written once per cancelled request (never per token); the
 * summary is computed when read and kept until the next cancel, so a caller polling /stats or
 * stats() pays for the sort once per change, not once per read.
 */
export class CancelLog {
  readonly #limit: number;
  #records: CancelRecord[] = [];
  /** Index of the oldest record once the ring is full. */
  #next = 0;
  #summary: CancelAgeSummary | undefined;

  constructor(limit = CANCEL_LOG_LIMIT) {
    this.#limit = limit;
  }

  /** Records a cancel noticed at `goneAt` of a request that arrived at `arrivedAt` (both performance.now()). */
  record(requestId: string | undefined, arrivedAt: number, goneAt: number): void {
    const record: CancelRecord = {
      request_id: requestId ?? null,
      at_ms: round3(performance.timeOrigin + goneAt),
      age_ms: round3(Math.max(0, goneAt - arrivedAt)),
    };
    if (this.#records.length < this.#limit) this.#records.push(record);
    else {
      this.#records[this.#next] = record;
      this.#next = (this.#next + 1) % this.#limit;
    }
    this.#summary = undefined;
  }

  /** The kept records, oldest first. */
  records(): CancelRecord[] {
    return [...this.#records.slice(this.#next), ...this.#records.slice(0, this.#next)];
  }

  summary(): CancelAgeSummary {
    if (this.#summary !== undefined) return { ...this.#summary };
    const ages = Float64Array.from(this.#records, (r) => r.age_ms).sort();
    const at = (q: number): number | null =>
      ages.length === 0
        ? null
        : (ages[Math.min(ages.length - 1, Math.max(0, Math.ceil(q * ages.length) - 1))] ?? null);
    this.#summary = {
      count: ages.length,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: ages.length === 0 ? null : (ages[ages.length - 1] ?? null),
    };
    return { ...this.#summary };
  }

  clear(): void {
    this.#records = [];
    this.#next = 0;
    this.#summary = undefined;
  }
}

/** Microsecond precision is plenty, and keeps the JSON short. */
function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
