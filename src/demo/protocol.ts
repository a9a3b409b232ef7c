import type { DelayLinkSpec } from './topology.js';

/**
 * What the orchestrator (root namespace) and a region's agent (inside the region's namespace)
 * say to each other: JSON, one message per line, commands on the agent's stdin, events on its
 * stdout. Times are milliseconds on the machine's wall clock with sub-millisecond precision
 * (performance.timeOrigin + performance.now()), comparable across the demo's processes.
 */

/** Given to the agent as its one argument. */
export interface AgentConfig {
  region: string;
  gatewayUrl: string;
  /** The region's own simulators: started, killed and restarted by the agent, polled for /stats. */
  simulators: { name: string; host: string; port: number }[];
  /** `ghostwire simulate` flags besides --host and --port. */
  simulatorArgs: string[];
  /** The region's gateway config (JSON), written by the orchestrator. */
  gatewayConfigFile: string;
  /** Delay links this agent runs. */
  links: DelayLinkSpec[];
  load: LoadSettings;
  /** How often /readyz and every simulator's /stats are polled. */
  pollMs: number;
}

export interface LoadSettings {
  /** Requests per second this region's users send, paced evenly. */
  ratePerS: number;
  /** Distinct users (editor sessions); each has its own session id and file. */
  users: number;
  maxTokens: number;
  /** A request not finished by then is cancelled and counted as failed. */
  timeoutMs: number;
}

export type AgentCommand =
  /** Start (or restart, on the same ports) the region's simulators; each is identified once up. */
  | { cmd: 'start-simulators' }
  | { cmd: 'start-gateway' }
  /** SIGKILL every simulator of the region at once. */
  | { cmd: 'kill-simulators' }
  | { cmd: 'load'; on: boolean }
  /** Stop everything the agent runs, then exit. Closing the agent's stdin does the same. */
  | { cmd: 'exit' };

/** How one user request ended. */
export type Outcome =
  /** A 200 that streamed to `data: [DONE]`. */
  | 'ok'
  /** Failed before any completion byte reached the user: an error status, a reset, an error event first. */
  | 'failed'
  /** Completion bytes had arrived, then the stream broke (reset, error event, or no [DONE]). */
  | 'cut';

/** One user request, as the user saw it. */
export interface RequestRecord {
  /** The users' region. */
  region: string;
  seq: number;
  startAt: number;
  /** When the response headers arrived. */
  headersAt?: number;
  /** When the first completion byte arrived. */
  firstByteAt?: number;
  endAt: number;
  status: number;
  outcome: Outcome;
  /** The serving simulator's identity, read from the completion id. */
  servedBy?: string;
  /** The gateway's error code (GW_…), or the transport error's code. */
  error?: string;
}

export type AgentEvent =
  | { type: 'ready'; links: number }
  /** `at`: when the first of them was listening (from then on the region has capacity). */
  | { type: 'simulators-started'; at: number }
  | { type: 'gateway-started'; at: number }
  /** `at`: just before the first SIGKILL. */
  | { type: 'simulators-killed'; at: number }
  /** A command could not be carried out; the orchestrator gives up. */
  | { type: 'failed'; message: string }
  | { type: 'record'; record: RequestRecord }
  | { type: 'readyz'; at: number; status: number; code?: string }
  | { type: 'stats'; at: number; simulator: string; requests: number }
  | { type: 'identity'; simulator: string; id: string }
  | { type: 'load-stopped'; inFlight: number }
  | { type: 'log'; message: string };

/** Milliseconds on the shared wall clock, sub-millisecond precision. */
export function clock(): number {
  return performance.timeOrigin + performance.now();
}

/** Splits a byte stream into lines and hands each parsed JSON line on; bad lines go to `onBad`. */
export function jsonLines<T>(
  onMessage: (msg: T) => void,
  onBad: (line: string) => void,
): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('utf8');
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line.length > 0) {
        try {
          onMessage(JSON.parse(line) as T);
        } catch {
          onBad(line);
        }
      }
      nl = pending.indexOf('\n');
    }
  };
}

/**
 * The simulator's identity inside a completion id: `cmpl-sim<run id><6-char sequence>`, where the
 * run id is random per simulator process. The gateway passes SSE bytes through untouched, so the
 * user can tell which simulator (and a restarted one from its predecessor) served a request.
 */
export function simulatorIdentity(completionId: string): string | undefined {
  const m = /^cmpl-sim([0-9a-z]+)[0-9a-z]{6}$/.exec(completionId);
  return m?.[1];
}

/** The completion id in the first SSE event of a response, if it has arrived. */
export function completionIdIn(sse: string): string | undefined {
  return /"id":"(cmpl-[0-9a-z]+)"/.exec(sse)?.[1];
}
