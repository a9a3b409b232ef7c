// What the model servers did for the run: a simulator's /stats read before and after (counters are
// differenced, never reset: someone else may be measuring too), and its /stats/cancels joined with
// the load generator's own cancels by x-request-id. Same host, same clock (performance.timeOrigin +
// now() on both sides), so a cancel's trip from the client to the GPU can be timed.
import type { CancelRecord, SimulatorStats } from '../simulator/index.js';
import { displayUrl, smallRequest } from './http-get.js';
import type { CallRecord } from './recorder.js';
import { summarize, type Summary } from './summary-stats.js';

/** The counters read from one /stats URL, or why they could not be. */
export type StatsRead = { url: string; stats: SimulatorStats } | { url: string; error: string };

/** The GPU side of a run, summed over every --stats-url. */
export interface GpuReport {
  sources: string[];
  /** Sources that could not be read before or after (then left out of the sums). */
  unreadable: string[];
  requests: number;
  completed: number;
  cancelled: number;
  tokens_generated: number;
  tokens_after_cancel: number;
  /** Client cancels found in a simulator's cancel log (by x-request-id), of all client cancels. */
  joined: number;
  client_cancels: number;
  /** Age of the joined cancels at the simulator: its arrival → it noticed the client gone. */
  cancel_age_ms: Summary;
  /** Client's cancel (RST_STREAM / close) → the simulator noticed it: how long the GPU kept working. */
  cancel_to_upstream_ms: Summary;
  /** Simulator age minus client age (send → cancel), per joined cancel: how well the two agree. */
  age_difference_ms: Summary;
}

/** `http://host:port` or `…/stats`: both name the simulator's /stats. */
export function statsUrlOf(url: string): string {
  const u = new URL(url);
  if (!u.pathname.endsWith('/stats')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/stats`;
  return u.href;
}

export async function readStats(urls: readonly string[], insecure: boolean): Promise<StatsRead[]> {
  return Promise.all(
    urls.map(async (url): Promise<StatsRead> => {
      try {
        const reply = await smallRequest('GET', url, { insecure });
        if (reply.status !== 200) return { url, error: `HTTP ${reply.status}` };
        return { url, stats: JSON.parse(reply.body) as SimulatorStats };
      } catch (err) {
        return { url, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

/** Every /stats/cancels record of the given simulators (an older simulator without the route: none). */
export async function readCancels(urls: readonly string[], insecure: boolean): Promise<CancelRecord[]> {
  const lists = await Promise.all(
    urls.map(async (url) => {
      try {
        const reply = await smallRequest('GET', `${url.replace(/\/+$/, '')}/cancels`, { insecure });
        if (reply.status !== 200) return [];
        const parsed = JSON.parse(reply.body) as { cancels?: CancelRecord[] };
        return Array.isArray(parsed.cancels) ? parsed.cancels : [];
      } catch {
        return [];
      }
    }),
  );
  return lists.flat();
}

/** The counters' deltas and the cancel join. */
export function gpuReport(
  before: readonly StatsRead[],
  after: readonly StatsRead[],
  simCancels: readonly CancelRecord[],
  records: readonly CallRecord[],
): GpuReport {
  const report: GpuReport = {
    sources: before.map((b) => displayUrl(b.url)),
    unreadable: [],
    requests: 0,
    completed: 0,
    cancelled: 0,
    tokens_generated: 0,
    tokens_after_cancel: 0,
    joined: 0,
    client_cancels: 0,
    cancel_age_ms: summarize([]),
    cancel_to_upstream_ms: summarize([]),
    age_difference_ms: summarize([]),
  };
  for (const [i, b] of before.entries()) {
    const a = after[i];
    if (!('stats' in b) || a === undefined || !('stats' in a)) {
      report.unreadable.push(
        `${displayUrl(b.url)}: ${'error' in b ? b.error : a !== undefined && 'error' in a ? a.error : 'not read'}`,
      );
      continue;
    }
    report.requests += a.stats.requests - b.stats.requests;
    report.completed += a.stats.completed - b.stats.completed;
    report.cancelled += a.stats.cancelled - b.stats.cancelled;
    report.tokens_generated += a.stats.tokens_generated - b.stats.tokens_generated;
    report.tokens_after_cancel += a.stats.tokens_after_cancel - b.stats.tokens_after_cancel;
  }
  const byId = new Map<string, CancelRecord>();
  for (const c of simCancels) if (c.request_id !== null) byId.set(c.request_id, c);
  const simAges: number[] = [];
  const trips: number[] = [];
  const diffs: number[] = [];
  for (const r of records) {
    if (r.outcome !== 'cancelled') continue;
    report.client_cancels++;
    const sim = byId.get(r.id);
    if (sim === undefined) continue;
    report.joined++;
    simAges.push(sim.age_ms);
    trips.push(sim.at_ms - r.settledAtMs);
    diffs.push(sim.age_ms - (r.settledAtMs - r.sentAtMs));
  }
  report.cancel_age_ms = summarize(simAges);
  report.cancel_to_upstream_ms = summarize(trips);
  report.age_difference_ms = summarize(diffs);
  return report;
}
