/**
 * The demo's world on paper: regions, their namespaces and addresses, the simulators in each,
 * the round-trip times between them, and each region's gateway config. Pure: nothing here touches
 * the machine, so the plan can be checked without root.
 */

/** Round-trip time inside a region (gateway to its own model servers). */
export const IN_REGION_RTT_MS = 2;

/** Round-trip times between regions, like us-east / us-west / eu-west. */
const CROSS_REGION_RTT_MS: Readonly<Record<string, number>> = {
  'r1-r2': 40,
  'r2-r3': 90,
  'r1-r3': 150,
};

/** Every namespace the demo creates starts with this; the pid after it says whose it is. */
export const NAMESPACE_PREFIX = 'gwdemo-';
export const GATEWAY_PORT = 8080;
const SIM_BASE_PORT = 9001;
/** In relay mode a region reaches simulator k of region j at 127.0.0.1:(RELAY_BASE_PORT + 100j + k). */
const RELAY_BASE_PORT = 19_000;

export interface SimulatorPlan {
  /** Also the deployment name in every gateway's config: `r1-sim-a`. */
  name: string;
  region: string;
  host: string;
  port: number;
}

export interface RegionPlan {
  name: string;
  /** 1-based; picks the address 10.77.<index>.1. */
  index: number;
  namespace: string;
  /** On the namespace's loopback; gateway and simulators bind here; other regions reach it over veth. */
  address: string;
  gatewayUrl: string;
  simulators: SimulatorPlan[];
  /** Regions in this region's spill-over order: itself first, then by round-trip time. */
  preference: string[];
}

/** A veth pair between two regions' namespaces; each end is named after the region it leads to. */
export interface LinkPlan {
  a: string;
  b: string;
  rttMs: number;
}

export interface DemoPlan {
  regions: RegionPlan[];
  links: LinkPlan[];
}

/** How the delays are made: the kernel's netem qdisc, or the userspace delay link. */
export type DelayMode = 'netem' | 'relay';

/** One TCP delay link a region's agent runs (relay mode), or the in-region hop (both modes). */
export interface DelayLinkSpec {
  /** The deployment it carries, for messages. */
  name: string;
  listenHost: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
  /** One-way delay added to every chunk, each direction. */
  delayMs: number;
}

/** The namespace of `region` for the demo run by `pid`. */
export function namespaceName(pid: number, region: string): string {
  return `${NAMESPACE_PREFIX}${pid}-${region}`;
}

/** The pid in a demo namespace's name, or undefined for a name that is not one of ours. */
export function namespaceOwner(name: string): number | undefined {
  const m = /^gwdemo-(\d+)-/.exec(name);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** The round-trip time between two regions (IN_REGION_RTT_MS for a region with itself). */
export function rttMs(a: string, b: string): number {
  if (a === b) return IN_REGION_RTT_MS;
  const key = [a, b].sort().join('-');
  const rtt = CROSS_REGION_RTT_MS[key];
  if (rtt === undefined) throw new RangeError(`no round-trip time between ${a} and ${b}`);
  return rtt;
}

/** Lays out `count` regions (2 or 3) with `simsPerRegion` simulators each, for the run of `pid`. */
export function planRegions(count: number, simsPerRegion: number, pid: number): DemoPlan {
  if (count < 2 || count > 3) throw new RangeError('the demo builds 2 or 3 regions');
  if (simsPerRegion < 1 || simsPerRegion > 26) throw new RangeError('1 to 26 simulators per region');
  const names = Array.from({ length: count }, (_, i) => `r${i + 1}`);
  const regions = names.map((name, i): RegionPlan => {
    const index = i + 1;
    const address = `10.77.${index}.1`;
    return {
      name,
      index,
      namespace: namespaceName(pid, name),
      address,
      gatewayUrl: `http://${address}:${GATEWAY_PORT}`,
      simulators: Array.from({ length: simsPerRegion }, (_, k) => ({
        name: `${name}-sim-${String.fromCharCode(97 + k)}`,
        region: name,
        host: address,
        port: SIM_BASE_PORT + k,
      })),
      // Stable sort: equal round-trip times keep the regions' own order.
      preference: [name, ...names.filter((n) => n !== name).sort((x, y) => rttMs(name, x) - rttMs(name, y))],
    };
  });
  const links: LinkPlan[] = [];
  for (let i = 0; i < names.length; i++)
    for (let j = i + 1; j < names.length; j++) {
      const a = names[i] as string;
      const b = names[j] as string;
      links.push({ a, b, rttMs: rttMs(a, b) });
    }
  return { regions, links };
}

/** The region named `name`; throws for a name the plan does not have. */
export function regionOf(plan: DemoPlan, name: string): RegionPlan {
  const region = plan.regions.find((r) => r.name === name);
  if (region === undefined) throw new RangeError(`no region ${name}`);
  return region;
}

/**
 * The TCP delay links region `from` runs. In-region hops are always a link (gateway and simulators
 * share the namespace's loopback, where netem would delay every local packet). In relay mode every
 * cross-region hop is one too: it listens on 127.0.0.1 in `from` and connects across the veth.
 */
export function delayLinksFor(plan: DemoPlan, from: string, mode: DelayMode): DelayLinkSpec[] {
  const specs: DelayLinkSpec[] = [];
  for (const region of plan.regions) {
    if (mode === 'netem' && region.name !== from) continue;
    region.simulators.forEach((sim, k) => {
      specs.push({
        name: sim.name,
        listenHost: '127.0.0.1',
        listenPort: RELAY_BASE_PORT + 100 * region.index + k + 1,
        targetHost: sim.host,
        targetPort: sim.port,
        delayMs: rttMs(from, region.name) / 2,
      });
    });
  }
  return specs;
}

/** Where region `from`'s gateway sends requests for `sim`: through its delay link, or straight over the veth. */
export function deploymentUrl(plan: DemoPlan, from: string, sim: SimulatorPlan, mode: DelayMode): string {
  const link = delayLinksFor(plan, from, mode).find((l) => l.name === sim.name);
  return link === undefined ? `h2c://${sim.host}:${sim.port}` : `h2c://${link.listenHost}:${link.listenPort}`;
}

/** Knobs of the gateway config that the demo's timings depend on. */
export interface GatewayTuning {
  /** Requests the gateway sends one simulator at once. */
  maxConcurrent: number;
  /** Active health probe period. */
  probeIntervalMs: number;
}

/** Region `name`'s gateway config: every deployment of every region, its own region first. */
export function gatewayConfig(
  plan: DemoPlan,
  name: string,
  mode: DelayMode,
  tuning: GatewayTuning,
): Record<string, unknown> {
  const self = regionOf(plan, name);
  const ordered = self.preference.map((n) => regionOf(plan, n));
  const deployments = ordered.flatMap((region) =>
    region.simulators.map((sim) => ({
      name: sim.name,
      url: deploymentUrl(plan, name, sim, mode),
      region: region.name,
      maxConcurrent: tuning.maxConcurrent,
      // Fail fast: a dead link should not hold a request for the default 3 s.
      connectTimeoutMs: 1000,
    })),
  );
  return {
    listeners: [{ host: self.address, port: GATEWAY_PORT }],
    auth: { mode: 'none' },
    limits: { shutdownGraceMs: 1000, requestTimeoutMs: 10_000 },
    routing: {
      region: name,
      regions: ordered.map((r) => ({ name: r.name, publicUrl: r.gatewayUrl })),
      health: {
        active: { intervalMs: tuning.probeIntervalMs, timeoutMs: Math.min(1000, tuning.probeIntervalMs) },
      },
    },
    deployments,
    models: [{ name: 'default', deployments: deployments.map((d) => d.name) }],
  };
}
