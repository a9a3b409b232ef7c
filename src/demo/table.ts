import type { PhaseStats } from './analysis.js';
import type { DemoResult } from './regions.js';

/** The demo's result as a short table plus a few lines of detail, for a terminal. */
export function renderResult(result: DemoResult): string {
  const F = result.failover.region;
  const label = (p: PhaseStats): string => (p.name === 'steady' ? 'steady' : `${F} ${p.name}`);
  const header = [
    'phase',
    'users',
    'requests',
    ...result.regions.map((r) => `in ${r}`),
    'failed before streaming',
    'cut mid-stream',
    'moved after',
    `${F} /readyz`,
  ];
  const rows = result.phases.flatMap((phase) =>
    phase.users.map((u) => {
      const isF = u.region === F;
      const moved =
        isF && phase.name === 'down'
          ? ms(result.failover.moveMs)
          : isF && phase.name === 'back'
            ? ms(result.recovery.returnMs)
            : '';
      const ready =
        !isF || phase.name === 'steady'
          ? ''
          : phase.name === 'down'
            ? result.failover.notReadyMs === undefined
              ? 'never 503'
              : `503 after ${ms(result.failover.notReadyMs)}`
            : result.recovery.readyMs === undefined
              ? 'never 200'
              : `200 after ${ms(result.recovery.readyMs)}`;
      return [
        label(phase),
        u.region,
        String(u.requests),
        ...result.regions.map((r) => `${Math.round(u.sharePct[r] ?? 0)}%`),
        String(u.failedBeforeStreaming),
        String(u.cutMidStream),
        moved,
        ready,
      ];
    }),
  );
  const lines = [table(header, rows), ''];
  const f = result.failover;
  lines.push(
    `${F} down: ${f.inFlightAtKill} of ${F}'s requests were in flight at the kill; the longest a user waited for a first byte after it: ${ms(f.worstWaitMs)}; ` +
      `served by ${f.nextRegion}: ${f.nextRegionPct ?? 0}% of those moved`,
  );
  lines.push(
    `simulators' /stats, requests received: ` +
      result.phases
        .map(
          (p) => `${label(p)} ${result.regions.map((r) => `${r} ${p.simulatorRequests[r] ?? 0}`).join(' ')}`,
        )
        .join(' | '),
  );
  lines.push('');
  const failed = result.checks.filter((c) => !c.ok);
  if (failed.length === 0) lines.push(`PASS: all ${result.checks.length} expectations held`);
  else
    for (const c of failed)
      lines.push(`FAIL (${c.phase === 'steady' ? 'steady' : `${F} ${c.phase}`}): ${c.what}`);
  return `${lines.join('\n')}\n`;
}

function ms(x: number | undefined): string {
  return x === undefined ? '—' : `${Math.round(x)} ms`;
}

/** Left-aligned text columns, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
