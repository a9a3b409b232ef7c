import { readFileSync } from 'node:fs';

/** The parts of a V8 .cpuprofile (as written by `node --cpu-prof`) that we read. */
interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One function's self time. */
export interface SelfTime {
  name: string;
  location: string;
  selfMs: number;
  /** Percent of all non-idle samples in the window. */
  percent: number;
  /** The caller that accounts for most of this self time ("name location"), to find who to blame for a builtin. */
  caller: string;
}

/** Self time summed per function, best first, plus the totals it is a share of. */
export interface ProfileSummary {
  top: SelfTime[];
  /** Self time by where the code lives: the gateway's own code, node internals, GC, native... */
  byArea: { area: string; percent: number }[];
  busyMs: number;
  idleMs: number;
}

/**
 * Sums self time per function (functionName + url:line) over the samples whose timestamp lies in
 * [fromUs, toUs] (V8 profile clock = CLOCK_MONOTONIC µs, the same as process.hrtime), so start-up
 * and shutdown can be left out. "(idle)" is excluded from the percentages.
 */
export function summarizeProfile(
  file: string,
  root: string,
  window?: { fromUs: number; toUs: number },
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map<number, { key: string; name: string; location: string; area: string }>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const location = url === '' ? '' : `${shortUrl(url, root)}:${lineNumber + 1}`;
    const name = functionName === '' ? '(anonymous)' : functionName;
    frames.set(node.id, { key: `${name} ${location}`, name, location, area: areaOf(name, url, root) });
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  const self = new Map<string, SelfTime>();
  const callers = new Map<string, Map<string, number>>();
  const areas = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  let t = profile.startTime;
  const n = profile.samples.length;
  for (let i = 0; i < n; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const dt = i + 1 < n ? (profile.timeDeltas[i + 1] ?? 0) : 0;
    if (window !== undefined && (t < window.fromUs || t > window.toUs)) continue;
    const nodeId = profile.samples[i] ?? -1;
    const frame = frames.get(nodeId);
    if (frame === undefined) continue;
    if (frame.name === '(idle)') {
      idleUs += dt;
      continue;
    }
    busyUs += dt;
    const entry = self.get(frame.key) ?? {
      name: frame.name,
      location: frame.location,
      selfMs: 0,
      percent: 0,
      caller: '',
    };
    entry.selfMs += dt / 1000;
    self.set(frame.key, entry);
    const parent = frames.get(parentOf.get(nodeId) ?? -1);
    if (parent !== undefined) {
      const byCaller = callers.get(frame.key) ?? new Map<string, number>();
      byCaller.set(parent.key, (byCaller.get(parent.key) ?? 0) + dt);
      callers.set(frame.key, byCaller);
    }
    areas.set(frame.area, (areas.get(frame.area) ?? 0) + dt);
  }
  const pct = (us: number): number => (busyUs === 0 ? 0 : Math.round((us / busyUs) * 1000) / 10);
  const top = [...self.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .map((e) => ({
      ...e,
      selfMs: Math.round(e.selfMs * 10) / 10,
      percent: pct(e.selfMs * 1000),
      caller: topKey(callers.get(`${e.name} ${e.location}`)),
    }));
  const byArea = [...areas.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([area, us]) => ({ area, percent: pct(us) }));
  return { top, byArea, busyMs: Math.round(busyUs / 1000), idleMs: Math.round(idleUs / 1000) };
}

function topKey(m: Map<string, number> | undefined): string {
  let best = '';
  let bestValue = -1;
  for (const [k, v] of m ?? []) {
    if (v > bestValue) {
      best = k;
      bestValue = v;
    }
  }
  return best.trim();
}

function shortUrl(url: string, root: string): string {
  const prefix = `file://${root}/`;
  return url.startsWith(prefix) ? url.slice(prefix.length) : url;
}

function areaOf(name: string, url: string, root: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'V8/native (program)';
  if (url.startsWith(`file://${root}/dist/src/`)) return 'ghostwire (dist/src)';
  if (url.startsWith(`file://${root}/node_modules/`)) return 'node_modules';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`;
  if (url === '') return 'native/builtins';
  return 'other';
}
