import type { Call } from './call.js';

/** One second of the run, for the timeline and the live progress line. */
export interface Bucket {
  requests: number;
  completions: number;
  cancels: number;
  errors: number;
  /** Time to first token of requests whose first token came in this second, ms. */
  ttft: number[];
}

/** What the log and the cancel join need of a finished request; times are wall-clock ms (timeOrigin + now). */
export interface CallRecord {
  id: string;
  developer: number;
  outcome: string;
  code: string | undefined;
  cancelKind: 'reset' | 'close' | undefined;
  stale: boolean;
  sentAtMs: number;
  firstTokenAtMs: number | undefined;
  settledAtMs: number;
  textChars: number;
}

/** Requests remembered one by one (for --log and the cancel join); the counts never stop. */
const MAX_RECORDS = 250_000;

/** Everything measured during a run. Cheap per request: a few array pushes. */
export class Recorder {
  readonly startedAt: number;
  keys = 0;
  sent = 0;
  completed = 0;
  cancelledReset = 0;
  cancelledClose = 0;
  superseded = 0;
  unfinished = 0;
  /** Completions that finished before the developer's next key: ghost text they saw. */
  shown = 0;
  accepted = 0;
  /** Completions that finished after the developer typed on (only with --cancel never). */
  stale = 0;
  readonly errors = new Map<string, number>();
  /** Latencies in ms. */
  readonly ttft: number[] = [];
  readonly completion: number[] = [];
  readonly atPause: number[] = [];
  readonly cancelAge: number[] = [];
  readonly buckets: Bucket[] = [];
  readonly records: CallRecord[] = [];
  recordsDropped = 0;

  constructor(startedAt = performance.now()) {
    this.startedAt = startedAt;
  }

  get cancelled(): number {
    return this.cancelledReset + this.cancelledClose;
  }

  get errorCount(): number {
    let n = 0;
    for (const v of this.errors.values()) n += v;
    return n;
  }

  bucket(at: number): Bucket {
    const i = Math.max(0, Math.floor((at - this.startedAt) / 1000));
    while (this.buckets.length <= i)
      this.buckets.push({ requests: 0, completions: 0, cancels: 0, errors: 0, ttft: [] });
    return this.buckets[i] as Bucket;
  }

  sentOne(call: Call): void {
    this.sent++;
    this.bucket(call.sentAt).requests++;
  }

  /** A request settled: count it once, by outcome. */
  settled(call: Call): void {
    const at = call.settledAt ?? performance.now();
    const b = this.bucket(at);
    if (call.firstTokenAt !== undefined) {
      const ttft = call.firstTokenAt - call.sentAt;
      this.ttft.push(ttft);
      this.bucket(call.firstTokenAt).ttft.push(ttft);
      if (call.keyAt !== undefined) this.atPause.push(call.firstTokenAt - call.keyAt);
    }
    switch (call.outcome) {
      case 'completed':
        this.completed++;
        b.completions++;
        this.completion.push(at - call.sentAt);
        if (call.stale) this.stale++;
        break;
      case 'cancelled':
        if (call.cancelKind === 'close') this.cancelledClose++;
        else this.cancelledReset++;
        b.cancels++;
        this.cancelAge.push(at - call.sentAt);
        break;
      case 'superseded':
        this.superseded++;
        break;
      case 'unfinished':
        this.unfinished++;
        break;
      default: {
        const code = call.code ?? 'unknown';
        this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
        b.errors++;
      }
    }
    if (this.records.length >= MAX_RECORDS) {
      this.recordsDropped++;
      return;
    }
    const wall = (t: number): number => Math.round((performance.timeOrigin + t) * 1000) / 1000;
    this.records.push({
      id: call.id,
      developer: call.developer,
      outcome: call.outcome ?? 'unknown',
      code: call.code,
      cancelKind: call.cancelKind,
      stale: call.stale,
      sentAtMs: wall(call.sentAt),
      firstTokenAtMs: call.firstTokenAt === undefined ? undefined : wall(call.firstTokenAt),
      settledAtMs: wall(at),
      textChars: call.textChars,
    });
  }
}
