import { fileURLToPath } from 'node:url';
import { startDelayLink, type DelayLink } from './delay-link.js';
import { LoadClient } from './load.js';
import { every, readyz, simulatorIdentityOf, simulatorRequests } from './observe.js';
import { ProcessSet, startProcess, type ManagedProcess } from './processes.js';
import { clock, jsonLines, type AgentCommand, type AgentConfig, type AgentEvent } from './protocol.js';

/**
 * A region's agent: runs inside the region's network namespace (started with `ip netns exec`) and
 * does everything that has to happen there — the delay links, the region's simulators and
 * gateway, its users, and the polling of /readyz and /stats — on the orchestrator's commands
 * (stdin) and reporting events (stdout), one JSON message per line. When its stdin closes (the
 * orchestrator exited, however it exited), it stops its processes and exits.
 *
 * Usage: node dist/src/demo/agent.js '<AgentConfig as JSON>'
 */

const BIN = fileURLToPath(new URL('../../../bin/ghostwire.js', import.meta.url));
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 1500;

function send(event: AgentEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as AgentConfig;
  const processes = new ProcessSet();
  let simulators: ManagedProcess[] = [];
  const links: DelayLink[] = [];
  const load = new LoadClient(config.gatewayUrl, config.region, config.load, (record) =>
    send({ type: 'record', record }),
  );
  const timeoutMs = Math.max(200, config.pollMs * 5);
  const stops: (() => void)[] = [];

  let lastReady: string | undefined;
  stops.push(
    every(config.pollMs, async () => {
      const r = await readyz(config.gatewayUrl, timeoutMs);
      const key = `${r.status} ${r.code ?? ''}`;
      if (key === lastReady) return;
      lastReady = key;
      send({
        type: 'readyz',
        at: clock(),
        status: r.status,
        ...(r.code === undefined ? {} : { code: r.code }),
      });
    }),
  );
  const lastCount = new Map<string, number>();
  stops.push(
    every(config.pollMs, async () => {
      await Promise.all(
        config.simulators.map(async (sim) => {
          const n = await simulatorRequests(`http://${sim.host}:${sim.port}`, timeoutMs);
          if (n === undefined || lastCount.get(sim.name) === n) return;
          lastCount.set(sim.name, n);
          send({ type: 'stats', at: clock(), simulator: sim.name, requests: n });
        }),
      );
    }),
  );

  let exiting: Promise<never> | undefined;
  const exit = (): Promise<never> =>
    (exiting ??= (async () => {
      for (const stop of stops) stop();
      await load.stop();
      load.close();
      await processes.stopAll(STOP_GRACE_MS);
      await Promise.all(links.map((l) => l.close()));
      process.exit(0);
    })());

  const startSimulators = async (): Promise<void> => {
    const t0 = clock();
    let firstAt: number | undefined;
    simulators = await Promise.all(
      config.simulators.map((sim) =>
        startProcess({
          name: sim.name,
          command: process.execPath,
          args: [BIN, 'simulate', '--host', sim.host, '--port', String(sim.port), ...config.simulatorArgs],
          ready: /listening on (\S+)/,
          timeoutMs: START_TIMEOUT_MS,
        }).then((p) => {
          firstAt ??= clock();
          return processes.add(p);
        }),
      ),
    );
    // From the first one up, the region has capacity again: the gateway may use it.
    const at = firstAt ?? clock();
    for (const sim of simulators)
      send({ type: 'identity', simulator: sim.name, id: await simulatorIdentityOf(sim.url, 2000) });
    send({
      type: 'log',
      message: `${simulators.length} simulator(s) listening ${((at - t0) / 1000).toFixed(1)} s after their start`,
    });
    send({ type: 'simulators-started', at });
  };

  const handle = async (command: AgentCommand): Promise<void> => {
    switch (command.cmd) {
      case 'start-simulators':
        return startSimulators();
      case 'start-gateway': {
        const gateway = await startProcess({
          name: `${config.region} gateway`,
          command: process.execPath,
          args: [BIN, 'serve', '--config', config.gatewayConfigFile],
          ready: /listening on (\S+)/,
          timeoutMs: START_TIMEOUT_MS,
        });
        processes.add(gateway);
        send({ type: 'gateway-started', at: clock() });
        return;
      }
      case 'kill-simulators': {
        const at = clock();
        for (const sim of simulators) sim.child.kill('SIGKILL');
        await Promise.all(simulators.map((s) => s.exited));
        simulators = [];
        send({ type: 'simulators-killed', at });
        return;
      }
      case 'load':
        if (command.on) load.start();
        else {
          const inFlight = load.inFlight;
          await load.stop();
          send({ type: 'load-stopped', inFlight });
        }
        return;
      case 'exit':
        await exit();
    }
  };

  // Commands run one at a time, in order.
  let queue = Promise.resolve();
  process.stdin.on(
    'data',
    jsonLines<AgentCommand>(
      (command) => {
        queue = queue.then(() =>
          handle(command).catch((err: unknown) => {
            send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
          }),
        );
      },
      (line) => send({ type: 'log', message: `unreadable command: ${line.slice(0, 200)}` }),
    ),
  );
  process.stdin.once('end', () => void exit());
  process.stdin.once('error', () => void exit());
  // The orchestrator owns shutdown; a terminal's Ctrl-C reaches it, not us (own process group).
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void exit());

  for (const spec of config.links) links.push(await startDelayLink(spec));
  send({ type: 'ready', links: links.length });
}

main().catch((err: unknown) => {
  process.stderr.write(`demo agent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
