import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { analyse, type Analysis, type RunLog } from './analysis.js';
import {
  buildTopology,
  destroyNamespace,
  findBinary,
  netnsUnavailableReason,
  removeStaleNamespaces,
} from './netns.js';
import { startProcess, stopProcess, type ManagedProcess } from './processes.js';
import { clock, jsonLines, type AgentCommand, type AgentConfig, type AgentEvent } from './protocol.js';
import {
  delayLinksFor,
  gatewayConfig,
  IN_REGION_RTT_MS,
  planRegions,
  type DelayMode,
  type DemoPlan,
  type LinkPlan,
  type RegionPlan,
} from './topology.js';

/**
 * `ghostwire demo regions`, the orchestration: build the regions, start an agent in each (which
 * starts the region's simulators, gateway and users), then run three phases — steady; the first
 * region's simulators SIGKILLed; the same simulators restarted — and analyse what the users saw.
 * Whatever happens (an error, an abort from SIGINT), every process and namespace it created is
 * gone when it returns.
 */

export interface DemoOptions {
  /** 2 or 3. */
  regions: number;
  /** Length of each of the three phases. */
  phaseMs: number;
  /** Requests per second from each region's users. */
  ratePerS: number;
  simsPerRegion: number;
  /** Load before the steady phase, not measured (sessions open, averages settle). */
  warmupMs: number;
  /** Failover must reach users within this (the requirement: 1 s). */
  maxMoveMs: number;
  /** Share of a region's users that must be served where they should be. */
  minSharePct: number;
  /** Write the whole run log here (every request, /readyz change and /stats sample), as JSON. */
  logFile?: string;
}

export const DEMO_DEFAULTS: DemoOptions = Object.freeze({
  regions: 3,
  phaseMs: 6000,
  ratePerS: 30,
  simsPerRegion: 2,
  warmupMs: 1500,
  maxMoveMs: 1000,
  minSharePct: 99,
});

export interface DemoResult extends Analysis {
  regions: string[];
  namespaces: string[];
  delayMode: DelayMode;
  /** In relay mode: why the kernel's netem could not be used. */
  netemUnavailable?: string;
  inRegionRttMs: number;
  links: LinkPlan[];
  ratePerRegionPerS: number;
  phaseMs: number;
  simsPerRegion: number;
  maxMoveMs: number;
}

/** The machine cannot build the demo (not root, no network namespaces); nothing was created. */
export class DemoUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'DemoUnavailableError';
  }
}

const AGENT = fileURLToPath(new URL('./agent.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;
/** A user request is cancelled (and counted failed) after this. */
const REQUEST_TIMEOUT_MS = 5000;
const SIMULATOR_ARGS = ['--ttft-ms', '30', '--token-ms', '5', '--slots', '32', '--max-tokens', '64'];

/** Runs the demo; `progress` gets one line per step. Rejects with the abort reason when `signal` fires. */
export async function runRegionsDemo(
  options: DemoOptions,
  progress: (line: string) => void,
  signal: AbortSignal,
): Promise<DemoResult> {
  const unavailable = await netnsUnavailableReason();
  if (unavailable !== undefined) throw new DemoUnavailableError(unavailable);
  const stale = await removeStaleNamespaces();
  if (stale.length > 0) progress(`removed namespaces left by runs that died: ${stale.join(', ')}`);

  const plan = planRegions(options.regions, options.simsPerRegion, process.pid);
  const dir = await mkdtemp(join(tmpdir(), 'gwdemo-'));
  const agents: Agent[] = [];
  try {
    progress(`building ${plan.regions.length} regions: ${plan.regions.map((r) => r.namespace).join(', ')}`);
    const topology = await buildTopology(plan);
    progress(
      topology.mode === 'netem'
        ? 'delays: tc netem on the veth links between regions'
        : `delays: userspace delay links (tc netem unavailable: ${topology.netemUnavailable ?? '?'})`,
    );
    signal.throwIfAborted();
    const log: RunLog = {
      regions: plan.regions.map((r) => r.name),
      preference: Object.fromEntries(plan.regions.map((r) => [r.name, r.preference])),
      failedRegion: plan.regions[0]?.name ?? 'r1',
      records: [],
      identities: {},
      readyz: [],
      stats: [],
      steadyAt: 0,
      killAt: 0,
      restartAt: 0,
      endAt: 0,
    };
    progress('starting simulators, gateways and users in every region');
    // Every start is waited for (and each agent tracked) before a failure is thrown: none is left running.
    const starts = await Promise.allSettled(
      plan.regions.map(async (region) => {
        const file = join(dir, `${region.name}.json`);
        const config = gatewayConfig(plan, region.name, topology.mode, {
          maxConcurrent: 16,
          probeIntervalMs: 500,
        });
        await writeFile(file, JSON.stringify(config, null, 2));
        agents.push(await Agent.start(plan, region, topology.mode, file, options, log, signal, progress));
      }),
    );
    for (const start of starts) if (start.status === 'rejected') throw start.reason;
    agents.sort((a, b) => a.region.index - b.region.index);
    await Promise.all(agents.map((a) => a.command({ cmd: 'start-simulators' }, 'simulators-started')));
    await Promise.all(agents.map((a) => a.command({ cmd: 'start-gateway' }, 'gateway-started')));
    await Promise.all(agents.map((a) => a.ready(START_TIMEOUT_MS)));

    const failed = agents[0] as Agent;
    const phaseS = (options.phaseMs / 1000).toFixed(1);
    progress(
      `users send ${options.ratePerS} req/s per region; warm-up ${(options.warmupMs / 1000).toFixed(1)} s`,
    );
    await Promise.all(agents.map((a) => a.command({ cmd: 'load', on: true })));
    await sleep(options.warmupMs, undefined, { signal });
    log.steadyAt = clock();
    progress(`phase 1: steady, ${phaseS} s`);
    await sleep(options.phaseMs, undefined, { signal });
    progress(`phase 2: SIGKILL ${failed.region.name}'s simulators, ${phaseS} s`);
    log.killAt = (await failed.command({ cmd: 'kill-simulators' }, 'simulators-killed')).at;
    await sleep(Math.max(0, log.killAt + options.phaseMs - clock()), undefined, { signal });
    progress(`phase 3: restart ${failed.region.name}'s simulators, ${phaseS} s`);
    log.restartAt = (await failed.command({ cmd: 'start-simulators' }, 'simulators-started')).at;
    await sleep(Math.max(0, log.restartAt + options.phaseMs - clock()), undefined, { signal });
    log.endAt = clock();
    await Promise.all(agents.map((a) => a.command({ cmd: 'load', on: false }, 'load-stopped')));

    if (options.logFile !== undefined) await writeFile(options.logFile, JSON.stringify(log));
    const analysis = analyse(log, { maxMoveMs: options.maxMoveMs, minSharePct: options.minSharePct });
    return {
      ...analysis,
      regions: log.regions,
      namespaces: plan.regions.map((r) => r.namespace),
      delayMode: topology.mode,
      ...(topology.netemUnavailable === undefined ? {} : { netemUnavailable: topology.netemUnavailable }),
      inRegionRttMs: IN_REGION_RTT_MS,
      links: plan.links,
      ratePerRegionPerS: options.ratePerS,
      phaseMs: options.phaseMs,
      simsPerRegion: options.simsPerRegion,
      maxMoveMs: options.maxMoveMs,
    };
  } finally {
    progress('cleaning up: processes, namespaces');
    await Promise.all(agents.map((a) => a.stop()));
    for (const region of plan.regions) await destroyNamespace(region.namespace);
    await rm(dir, { recursive: true, force: true });
  }
}

type EventOf<T extends AgentEvent['type']> = Extract<AgentEvent, { type: T }>;

/** One region's agent, seen from the orchestrator: commands in, events out. */
class Agent {
  readonly region: RegionPlan;
  #process: ManagedProcess | undefined;
  readonly #waiters = new Set<{
    type: string;
    resolve: (e: AgentEvent) => void;
    reject: (e: Error) => void;
  }>();
  readonly #log: RunLog;
  readonly #signal: AbortSignal;
  readonly #progress: (line: string) => void;
  #readyStatus = 0;
  #failure: Error | undefined;

  private constructor(
    region: RegionPlan,
    log: RunLog,
    signal: AbortSignal,
    progress: (line: string) => void,
  ) {
    this.region = region;
    this.#progress = progress;
    this.#log = log;
    this.#signal = signal;
  }

  /** Starts the agent inside the region's namespace; resolves once its delay links listen. */
  static async start(
    plan: DemoPlan,
    region: RegionPlan,
    mode: DelayMode,
    gatewayConfigFile: string,
    options: DemoOptions,
    log: RunLog,
    signal: AbortSignal,
    progress: (line: string) => void,
  ): Promise<Agent> {
    const agent = new Agent(region, log, signal, progress);
    const config: AgentConfig = {
      region: region.name,
      gatewayUrl: region.gatewayUrl,
      simulators: region.simulators.map((s) => ({ name: s.name, host: s.host, port: s.port })),
      simulatorArgs: SIMULATOR_ARGS,
      gatewayConfigFile,
      links: delayLinksFor(plan, region.name, mode),
      load: { ratePerS: options.ratePerS, users: 20, maxTokens: 12, timeoutMs: REQUEST_TIMEOUT_MS },
      pollMs: 100,
    };
    const ip = findBinary('ip') ?? 'ip';
    agent.#process = await startProcess({
      name: `${region.name} agent`,
      command: ip,
      args: ['netns', 'exec', region.namespace, process.execPath, AGENT, JSON.stringify(config)],
      ready: /"type":"ready"/,
      timeoutMs: START_TIMEOUT_MS,
      detached: true,
      onStdout: jsonLines<AgentEvent>(
        (e) => agent.#onEvent(e),
        () => undefined,
      ),
    });
    void agent.#process.exited.then((code) =>
      agent.#fail(new Error(`${region.name} agent exited (${code})\n${agent.#process?.stderrTail() ?? ''}`)),
    );
    return agent;
  }

  /** Sends a command; with `until`, resolves with the first event of that type after it. */
  command(cmd: AgentCommand): Promise<void>;
  command<T extends AgentEvent['type']>(cmd: AgentCommand, until: T, timeoutMs?: number): Promise<EventOf<T>>;
  async command(
    cmd: AgentCommand,
    until?: AgentEvent['type'],
    timeoutMs = START_TIMEOUT_MS,
  ): Promise<unknown> {
    const waiting = until === undefined ? undefined : this.#waitFor(until, timeoutMs);
    this.#process?.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
    return waiting;
  }

  /** Resolves once the region's gateway answered /readyz with 200. */
  async ready(timeoutMs: number): Promise<void> {
    while (this.#readyStatus !== 200) await this.#waitFor('readyz', timeoutMs);
  }

  /** Asks the agent to stop everything and exit; kills it if it does not. Never throws. */
  async stop(): Promise<void> {
    const p = this.#process;
    if (p === undefined) return;
    this.#failure ??= new Error('stopping');
    p.child.stdin?.end(`${JSON.stringify({ cmd: 'exit' })}\n`);
    const exited = await Promise.race([p.exited.then(() => true), sleep(6000, false, { ref: false })]);
    if (!exited) await stopProcess(p, 2000).catch(() => undefined);
  }

  #waitFor(type: string, timeoutMs: number): Promise<AgentEvent> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error(`${this.region.name} agent: no ${type} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = (): void =>
        done(this.#signal.reason instanceof Error ? this.#signal.reason : new Error('aborted'));
      const waiter = {
        type,
        resolve: (e: AgentEvent) => {
          cleanup();
          resolve(e);
        },
        reject: (e: Error) => done(e),
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#signal.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
      };
      const done = (err: Error): void => {
        cleanup();
        reject(err);
      };
      this.#signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const w of [...this.#waiters]) w.reject(this.#failure);
  }

  #onEvent(e: AgentEvent): void {
    const region = this.region.name;
    const log = this.#log;
    switch (e.type) {
      case 'record':
        log.records.push(e.record);
        break;
      case 'readyz':
        this.#readyStatus = e.status;
        log.readyz.push({
          region,
          at: e.at,
          status: e.status,
          ...(e.code === undefined ? {} : { code: e.code }),
        });
        break;
      case 'stats':
        log.stats.push({ region, simulator: e.simulator, at: e.at, requests: e.requests });
        break;
      case 'identity':
        log.identities[e.id] = { simulator: e.simulator, region };
        break;
      case 'log':
        this.#progress(`${region}: ${e.message}`);
        break;
      case 'failed':
        this.#fail(new Error(`${region} agent: ${e.message}`));
        break;
      default:
        break;
    }
    for (const w of [...this.#waiters]) if (w.type === e.type) w.resolve(e);
  }
}
