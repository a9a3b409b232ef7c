// One measured load run against a process under test: `bench/load.ts --sync` as its own process
// (warm-up, then "ready"; this side samples CPU and says "go"), the process's CPU over exactly
// the measured phase, and how much of the machine something else took meanwhile. Shared by the
// benchmarks that compare gateway configs (affinity, policy).
import type { LoadResult } from './load.js';
import { cpuMicros, machineBusyMicros } from './proc.js';
import { pinToCpus, spawnNode } from './processes.js';

export interface MeasuredLoad {
  load: LoadResult;
  /** CPU µs of the processes under test per request sent in the measured phase. */
  cpuUsPerReq: number;
  /** CPU µs per request of every benchmark process (this one, the load client, `ours`). */
  allCpuUsPerReq: number;
  /** Busy CPU of the machine outside the benchmark's processes, % of one core: > ~30 means disturbed. */
  otherCpuPercent: number;
}

export interface MeasuredLoadOptions {
  /** `dist/bench/load.js` and its flags (without --sync, added here). */
  args: readonly string[];
  /** The processes whose CPU is measured, summed (a gateway and its workers). */
  pids: readonly number[];
  /** Every process of the benchmark (their CPU is not "other"). */
  ours: readonly number[];
  /** Bound on the whole run (warm-up + measured + drain + margin). */
  timeoutMs: number;
  /** Pin the load client to these CPUs. */
  pinTo: string | undefined;
  /** Runs after the warm-up, before the measured phase (e.g. reset a simulator's counters). */
  beforeMeasure?: () => Promise<void>;
  /** For error messages: the last output of the process under test. */
  tail?: () => string;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

export async function measuredLoad(o: MeasuredLoadOptions): Promise<MeasuredLoad> {
  type Sample = { proc: number; ours: number; machine: number; wall: number };
  let result: LoadResult | undefined;
  let failure: string | undefined;
  let cpu0: Sample | undefined;
  let cpu1: Sample | undefined;
  let lineWork: Promise<void> = Promise.resolve();
  const { child, tail } = spawnNode('load', [...o.args, '--sync'], {
    stdin: true,
    onLine: (line) => {
      if (!line.startsWith('{')) return;
      const msg = JSON.parse(line, (_k, v: unknown) => (v === null ? Number.NaN : v)) as {
        event: string;
        message?: string;
      };
      if (msg.event === 'ready') {
        lineWork = lineWork.then(async () => {
          await o.beforeMeasure?.();
          cpu0 = sample();
          child.stdin?.write('go\n');
        });
        lineWork.catch((err: unknown) => {
          failure = `before the measured phase: ${String(err)}`;
          child.kill('SIGKILL');
        });
      } else if (msg.event === 'result') {
        cpu1 = sample();
        result = msg as unknown as LoadResult;
      } else if (msg.event === 'error') failure = msg.message ?? 'unknown error';
    },
  });
  const ours = (): number[] => [process.pid, ...o.ours, child.pid ?? process.pid];
  const sample = (): Sample => ({
    proc: sum(o.pids.map((pid) => cpuMicros(pid))),
    ours: sum(ours().map((pid) => cpuMicros(pid))),
    machine: machineBusyMicros(),
    wall: performance.now(),
  });
  if (o.pinTo !== undefined && child.pid !== undefined) pinToCpus(child.pid, o.pinTo);
  const killer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(killer);
  await lineWork.catch(() => {});
  if (result === undefined || cpu0 === undefined || cpu1 === undefined)
    throw new Error(
      `load client gave no result (exit ${code}): ${failure ?? ''}\n${tail()}\n${o.tail?.() ?? ''}`,
    );
  const requests = Math.max(1, result.sent);
  const wallUs = Math.max(1, (cpu1.wall - cpu0.wall) * 1000);
  return {
    load: result,
    cpuUsPerReq: (cpu1.proc - cpu0.proc) / requests,
    allCpuUsPerReq: (cpu1.ours - cpu0.ours) / requests,
    otherCpuPercent: Math.max(0, ((cpu1.machine - cpu0.machine - (cpu1.ours - cpu0.ours)) / wallUs) * 100),
  };
}
