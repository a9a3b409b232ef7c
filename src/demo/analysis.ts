import type { RequestRecord } from './protocol.js';

/**
 * Turns what the users saw (one record per request) and what was polled (/readyz, /stats) into
 * the demo's result: per phase and region, where the users were served and how requests failed;
 * how fast traffic left the failed region and came back; and the list of expectations, each
 * held or not. Pure, so it is tested with made-up runs.
 */

export type PhaseName = 'steady' | 'down' | 'back';

export interface RunLog {
  /** Regions in plan order. */
  regions: string[];
  /** Each region's spill-over order (itself first). */
  preference: Record<string, string[]>;
  /** The region whose simulators are killed. */
  failedRegion: string;
  records: RequestRecord[];
  /** Simulator identity (run id) → where it runs. */
  identities: Record<string, { simulator: string; region: string }>;
  readyz: { region: string; at: number; status: number; code?: string }[];
  stats: { region: string; simulator: string; at: number; requests: number }[];
  /** Measurement starts (after warm-up). */
  steadyAt: number;
  /** Just before the SIGKILL. */
  killAt: number;
  /** The restarted simulators listen again. */
  restartAt: number;
  /** Load stopped (requests in flight then still finish and count). */
  endAt: number;
}

export interface Expectations {
  /** A failed region's users must be served elsewhere (first byte) within this, and wait no longer. */
  maxMoveMs: number;
  /** The share of a region's users served where they should be (own region; the next one while it is down). */
  minSharePct: number;
}

export interface UserStats {
  region: string;
  requests: number;
  ok: number;
  /** Failed before any completion byte reached the user. */
  failedBeforeStreaming: number;
  /** Cut after completion bytes had arrived. */
  cutMidStream: number;
  /** Requests served to the end, by the region of the simulator that served them. */
  servedIn: Record<string, number>;
  /** servedIn as a share of every request served to the end, in %. */
  sharePct: Record<string, number>;
  /** Error codes of the requests that failed before streaming. */
  failedErrors: Record<string, number>;
  /** Error codes of the requests cut mid-stream. */
  cutErrors: Record<string, number>;
}

export interface PhaseStats {
  name: PhaseName;
  startAt: number;
  endAt: number;
  users: UserStats[];
  /** Requests the simulators of each region received (their /stats counters), a cross-check. */
  simulatorRequests: Record<string, number>;
}

export interface Failover {
  region: string;
  nextRegion: string;
  /** Requests of the region's users in flight when the simulators died. */
  inFlightAtKill: number;
  /** From the kill to the first completion byte one of its users got from another region. */
  moveMs?: number;
  /** The longest any of its users, starting after the kill, waited for a first byte (or an error). */
  worstWaitMs?: number;
  /** Of its users' requests served elsewhere while it was down, the share the next region served. */
  nextRegionPct?: number;
  /** From the kill to its gateway's /readyz answering 503. */
  notReadyMs?: number;
  notReadyCode?: string;
}

export interface Recovery {
  region: string;
  /** From the restarted simulators listening to the first completion byte its users got from them. */
  returnMs?: number;
  /** Of its users' requests started after that, the share served at home. */
  homePctAfterReturn?: number;
  /** From the restart to its gateway's /readyz answering 200 again. */
  readyMs?: number;
}

export interface Check {
  phase: PhaseName;
  ok: boolean;
  what: string;
}

export interface Analysis {
  ok: boolean;
  phases: PhaseStats[];
  failover: Failover;
  recovery: Recovery;
  checks: Check[];
}

/** Analyses one run against the expectations. */
export function analyse(log: RunLog, expect: Expectations): Analysis {
  const where = (r: RequestRecord): string | undefined =>
    r.servedBy === undefined ? undefined : log.identities[r.servedBy]?.region;
  const bounds: [PhaseName, number, number][] = [
    ['steady', log.steadyAt, log.killAt],
    ['down', log.killAt, log.restartAt],
    ['back', log.restartAt, Infinity],
  ];
  // A request belongs to the phase it ended in: one cut by the kill counts where the kill happened.
  const measured = log.records.filter((r) => r.startAt >= log.steadyAt);
  const phaseOf = (r: RequestRecord): PhaseName | undefined =>
    bounds.find(([, from, to]) => r.endAt >= from && r.endAt < to)?.[0];

  const phases = bounds.map(([name, startAt, to]): PhaseStats => {
    const endAt = Number.isFinite(to) ? to : log.endAt;
    const records = measured.filter((r) => phaseOf(r) === name);
    return {
      name,
      startAt,
      endAt,
      users: log.regions.map((region) =>
        userStats(
          region,
          records.filter((r) => r.region === region),
          log.regions,
          where,
        ),
      ),
      simulatorRequests: simulatorRequests(log, startAt, to),
    };
  });

  const failover = failoverOf(log, where);
  const recovery = recoveryOf(log, where);
  const checks = checksOf(log, expect, phases, failover, recovery);
  return { ok: checks.every((c) => c.ok), phases, failover, recovery, checks };
}

function userStats(
  region: string,
  records: RequestRecord[],
  regions: string[],
  where: (r: RequestRecord) => string | undefined,
): UserStats {
  const servedIn: Record<string, number> = Object.fromEntries(regions.map((r) => [r, 0]));
  const failedErrors: Record<string, number> = {};
  const cutErrors: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  let cut = 0;
  let served = 0;
  for (const r of records) {
    if (r.outcome === 'ok') ok++;
    else if (r.outcome === 'failed') failed++;
    else cut++;
    if (r.outcome !== 'ok') {
      const errors = r.outcome === 'failed' ? failedErrors : cutErrors;
      const code = r.error ?? `HTTP_${r.status}`;
      errors[code] = (errors[code] ?? 0) + 1;
    }
    if (r.outcome === 'ok') {
      served++;
      const at = where(r) ?? 'unknown';
      servedIn[at] = (servedIn[at] ?? 0) + 1;
    }
  }
  const sharePct = Object.fromEntries(
    Object.entries(servedIn).map(([r, n]) => [r, served === 0 ? 0 : round1((100 * n) / served)]),
  );
  return {
    region,
    requests: records.length,
    ok,
    failedBeforeStreaming: failed,
    cutMidStream: cut,
    servedIn,
    sharePct,
    failedErrors,
    cutErrors,
  };
}

/** Sums each region's simulator counter increments over [from, to); a drop means a restart (counts from 0). */
function simulatorRequests(log: RunLog, from: number, to: number): Record<string, number> {
  const sums: Record<string, number> = Object.fromEntries(log.regions.map((r) => [r, 0]));
  const last = new Map<string, number>();
  for (const s of [...log.stats].sort((a, b) => a.at - b.at)) {
    const prev = last.get(s.simulator);
    last.set(s.simulator, s.requests);
    if (prev === undefined || s.at < from || s.at >= to) continue;
    const delta = s.requests >= prev ? s.requests - prev : s.requests;
    sums[s.region] = (sums[s.region] ?? 0) + delta;
  }
  return sums;
}

function failoverOf(log: RunLog, where: (r: RequestRecord) => string | undefined): Failover {
  const region = log.failedRegion;
  const nextRegion = log.preference[region]?.[1] ?? '';
  const mine = log.records.filter((r) => r.region === region);
  const out: Failover = {
    region,
    nextRegion,
    inFlightAtKill: mine.filter((r) => r.startAt < log.killAt && r.endAt > log.killAt).length,
  };
  const firstElsewhere = min(
    mine
      .filter((r) => r.firstByteAt !== undefined && r.firstByteAt > log.killAt)
      .filter((r) => {
        const at = where(r);
        return at !== undefined && at !== region;
      })
      .map((r) => r.firstByteAt as number),
  );
  if (firstElsewhere !== undefined) out.moveMs = round1(firstElsewhere - log.killAt);
  const waits = mine
    .filter((r) => r.startAt >= log.killAt && r.startAt < log.restartAt)
    .map((r) => (r.firstByteAt ?? r.endAt) - r.startAt);
  const worst = max(waits);
  if (worst !== undefined) out.worstWaitMs = round1(worst);
  const elsewhere = mine
    .filter((r) => r.firstByteAt !== undefined && r.firstByteAt > log.killAt && r.endAt < log.restartAt)
    .map(where)
    .filter((at) => at !== undefined && at !== region);
  if (elsewhere.length > 0)
    out.nextRegionPct = round1((100 * elsewhere.filter((at) => at === nextRegion).length) / elsewhere.length);
  const notReady = log.readyz.find(
    (e) => e.region === region && e.at >= log.killAt && e.at < log.restartAt && e.status === 503,
  );
  if (notReady !== undefined) {
    out.notReadyMs = round1(notReady.at - log.killAt);
    if (notReady.code !== undefined) out.notReadyCode = notReady.code;
  }
  return out;
}

function recoveryOf(log: RunLog, where: (r: RequestRecord) => string | undefined): Recovery {
  const region = log.failedRegion;
  const out: Recovery = { region };
  const mine = log.records.filter((r) => r.region === region);
  const back = min(
    mine
      .filter((r) => r.firstByteAt !== undefined && r.firstByteAt > log.restartAt && where(r) === region)
      .map((r) => r.firstByteAt as number),
  );
  if (back !== undefined) {
    out.returnMs = round1(back - log.restartAt);
    const after = mine.filter((r) => r.startAt >= back && r.outcome === 'ok');
    if (after.length > 0)
      out.homePctAfterReturn = round1((100 * after.filter((r) => where(r) === region).length) / after.length);
  }
  const ready = log.readyz.find((e) => e.region === region && e.at >= log.restartAt && e.status === 200);
  if (ready !== undefined) out.readyMs = round1(ready.at - log.restartAt);
  return out;
}

function checksOf(
  log: RunLog,
  expect: Expectations,
  phases: PhaseStats[],
  failover: Failover,
  recovery: Recovery,
): Check[] {
  const checks: Check[] = [];
  const check = (phase: PhaseName, ok: boolean, what: string): void => {
    checks.push({ phase, ok, what });
  };
  const F = log.failedRegion;
  const min = expect.minSharePct;
  for (const phase of phases) {
    for (const u of phase.users) {
      const home = u.sharePct[u.region] ?? 0;
      if (u.requests === 0) {
        check(phase.name, false, `${u.region}'s users sent no request that ended in this phase`);
        continue;
      }
      // Where users should be served: at home, except the failed region's users while it is down.
      if (!(phase.name !== 'steady' && u.region === F))
        check(
          phase.name,
          home >= min,
          `${u.region}'s users served in ${u.region}: ${home}% (expected ≥ ${min}%)`,
        );
      check(
        phase.name,
        u.failedBeforeStreaming === 0,
        `${u.region}'s users: ${u.failedBeforeStreaming} request(s) failed before streaming (expected 0)` +
          errorList(u.failedErrors),
      );
      if (phase.name === 'down' && u.region === F)
        check(
          phase.name,
          u.cutMidStream <= failover.inFlightAtKill,
          `${F}'s users: ${u.cutMidStream} cut mid-stream, at most the ${failover.inFlightAtKill} in flight at the kill`,
        );
      else
        check(
          phase.name,
          u.cutMidStream === 0,
          `${u.region}'s users: ${u.cutMidStream} request(s) cut mid-stream (expected 0)` +
            errorList(u.cutErrors),
        );
    }
  }
  const limit = expect.maxMoveMs;
  check(
    'down',
    failover.moveMs !== undefined && failover.moveMs <= limit,
    failover.moveMs === undefined
      ? `${F}'s users were never served by another region after the kill`
      : `${F}'s users served by another region ${failover.moveMs} ms after the kill (expected ≤ ${limit} ms)`,
  );
  check(
    'down',
    failover.worstWaitMs !== undefined && failover.worstWaitMs <= limit,
    failover.worstWaitMs === undefined
      ? `${F}'s users sent no request while it was down`
      : `${F}'s users waited at most ${failover.worstWaitMs} ms for a first byte after the kill (expected ≤ ${limit} ms)`,
  );
  check(
    'down',
    failover.nextRegionPct !== undefined && failover.nextRegionPct >= min,
    `${F}'s users moved to the next region, ${failover.nextRegion}: ${failover.nextRegionPct ?? 0}% (expected ≥ ${min}%)`,
  );
  check(
    'down',
    failover.notReadyMs !== undefined,
    failover.notReadyMs === undefined
      ? `${F}'s /readyz never answered 503 while its simulators were down`
      : `${F}'s /readyz answered 503 ${failover.notReadyMs} ms after the kill`,
  );
  check(
    'back',
    recovery.returnMs !== undefined,
    recovery.returnMs === undefined
      ? `${F}'s users were not served in ${F} again after the restart`
      : `${F}'s users served in ${F} again ${recovery.returnMs} ms after the restart`,
  );
  if (recovery.returnMs !== undefined)
    check(
      'back',
      (recovery.homePctAfterReturn ?? 0) >= min,
      `${F}'s users served in ${F} after the return: ${recovery.homePctAfterReturn ?? 0}% (expected ≥ ${min}%)`,
    );
  check(
    'back',
    recovery.readyMs !== undefined,
    recovery.readyMs === undefined
      ? `${F}'s /readyz did not answer 200 again after the restart`
      : `${F}'s /readyz answered 200 again ${recovery.readyMs} ms after the restart`,
  );
  return checks;
}

function errorList(errors: Record<string, number>): string {
  const list = Object.entries(errors)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${code} ×${count}`)
    .join(', ');
  return list.length > 0 ? ` [${list}]` : '';
}

function min(xs: number[]): number | undefined {
  return xs.length === 0 ? undefined : Math.min(...xs);
}

function max(xs: number[]): number | undefined {
  return xs.length === 0 ? undefined : Math.max(...xs);
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
