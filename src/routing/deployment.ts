import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { DeploymentConfig, RoutingConfig } from '../config/schema.js';
import { compileFimTemplate, type CompiledFimTemplate } from '../protocol/fim-templates.js';
import { upstreamAdapter, type UpstreamAdapter } from '../protocol/upstream/index.js';
import { channels, type HealthEvent } from '../telemetry/events.js';
import type { Dispatcher } from '../upstream/dispatcher.js';
import { credentialHeaders } from '../upstream/credentials.js';
import { resolveEndpoint, type Endpoint } from '../upstream/endpoint.js';
import { Http2Pool } from '../upstream/h2-pool.js';
import type { Http1TransportClass } from '../upstream/transports.js';
import { fnv1a, type AffinityNode } from './affinity.js';
import { Ewma } from './ewma.js';
import { DeploymentHealth, type HealthChange } from './health.js';

const DEFAULT_H2_SESSIONS = 4;
const DEFAULT_H1_CONNECTIONS = 256;

/**
 * One upstream endpoint serving models: where it is, how to reach it, and what the balancer
 * knows of it (requests outstanding against its batch capacity, time to first byte, health).
 */
export class Deployment implements AffinityNode {
  readonly name: string;
  /** The wire format it speaks (protocol/upstream/). */
  readonly adapter: UpstreamAdapter;
  /** Its FIM template, for servers that take a raw prompt. */
  readonly fimTemplate: CompiledFimTemplate | undefined;
  /** Whether the gateway applies stop sequences itself or trusts the server's (config `stopSequences`). */
  readonly enforceStop: boolean;
  /** Azure OpenAI settings (adapter azure-openai). */
  readonly azure: DeploymentConfig['azure'];
  readonly region: string;
  readonly endpoint: Endpoint;
  readonly dispatcher: Dispatcher;
  /** Headers sent on every upstream request: content type and the deployment's own credential. */
  readonly baseHeaders: Readonly<Record<string, string>>;
  readonly capacity: number;
  readonly weight: number;
  /** Fixed per name, so every gateway instance ranks deployments the same for an affinity key. */
  readonly seed: number;
  /** GET path of the active probe, or undefined when probing is off. */
  readonly probePath: string | undefined;
  readonly health: DeploymentHealth;
  readonly ttfb: Ewma;
  /** Requests sent and not yet finished (the gateway's own count, not the transport's). */
  outstanding = 0;
  /** Called on every health change, after it is published (the router wakes waiters on a recovery). */
  private readonly healthListeners = new Set<(d: Deployment, change: HealthChange) => void>();
  /** performance.now() of its last first byte or successful completion (-Infinity: none yet). */
  lastSuccessAt = -Infinity;
  /** What it was built from (see Deployment.fingerprint): a reload keeps it when this is unchanged. */
  readonly fingerprint: string;
  /** Registries (config generations) using it: its connections close when the last one lets go. */
  private holders = 0;

  /**
   * Everything a deployment is built from, hashed: its config, the routing settings it reads and
   * its resolved credential (a rotated key file must give a new deployment; the hash keeps the
   * key itself out of the string). Equal fingerprints make interchangeable deployments, so a
   * reload keeps the old one — with its connections, load and health — instead of starting cold.
   */
  static fingerprint(cfg: DeploymentConfig, index: number, routing: RoutingConfig): string {
    return createHash('sha256')
      .update(
        JSON.stringify([
          cfg,
          routing.region,
          routing.health,
          routing.ewma,
          credentialHeaders(cfg.credential, `deployments[${index}].credential`),
        ]),
      )
      .digest('base64');
  }

  /** `http1` must be given (see loadHttp1Transport) when the deployment speaks HTTP/1.1. */
  constructor(
    cfg: DeploymentConfig,
    index: number,
    routing: RoutingConfig,
    http1: Http1TransportClass | undefined,
  ) {
    this.name = cfg.name;
    this.adapter = upstreamAdapter(cfg.adapter);
    this.fimTemplate = cfg.fimTemplate === undefined ? undefined : compileFimTemplate(cfg.fimTemplate);
    this.enforceStop = cfg.stopSequences === 'enforce';
    this.azure = cfg.azure;
    this.region = cfg.region ?? routing.region;
    this.capacity = cfg.maxConcurrent;
    this.weight = cfg.weight;
    this.seed = fnv1a(cfg.name);
    this.endpoint = resolveEndpoint(cfg);
    if (this.endpoint.transport === 'h2') {
      this.dispatcher = new Http2Pool(this.endpoint, {
        maxSessions: cfg.maxConnections ?? DEFAULT_H2_SESSIONS,
        connectTimeoutMs: cfg.connectTimeoutMs,
        pingIntervalMs: cfg.pingIntervalMs,
        pingTimeoutMs: cfg.pingTimeoutMs,
        resetBurst: cfg.resetBudget.burst,
        resetPerSecond: cfg.resetBudget.perSecond,
      });
    } else {
      if (http1 === undefined)
        throw new Error(`deployment ${cfg.name}: the HTTP/1.1 transport is not loaded`);
      this.dispatcher = new http1(this.endpoint, {
        // One connection per request in flight, plus one so the health probe never waits
        // behind a full batch.
        maxConnections: cfg.maxConnections ?? Math.max(DEFAULT_H1_CONNECTIONS, cfg.maxConcurrent + 1),
        connectTimeoutMs: cfg.connectTimeoutMs,
      });
    }
    this.baseHeaders = Object.freeze({
      'content-type': 'application/json',
      ...credentialHeaders(cfg.credential, `deployments[${index}].credential`),
    });
    this.fingerprint = Deployment.fingerprint(cfg, index, routing);
    const active = routing.health.active;
    const probing = cfg.healthCheck?.enabled ?? active.enabled;
    this.probePath = probing ? (cfg.healthCheck?.path ?? active.path) : undefined;
    this.ttfb = new Ewma(routing.ewma.decayMs, routing.ewma.initialTtfbMs);
    this.health = new DeploymentHealth(routing.health.passive, active, (change) => {
      if (channels.deploymentHealth.hasSubscribers) {
        const event: HealthEvent = { deployment: this.name, region: this.region, ...change, at: Date.now() };
        channels.deploymentHealth.publish(event);
      }
      for (const fn of this.healthListeners) fn(this, change);
    });
  }

  /** One more registry uses it. */
  hold(): this {
    this.holders++;
    return this;
  }

  /** A registry is done with it: the last one closes its connections (gracefully, or at once). */
  async drop(now = false): Promise<void> {
    if (--this.holders > 0) return;
    if (now) this.dispatcher.destroy();
    else await this.dispatcher.close();
  }

  /** Subscribes to this deployment's health changes; returns the unsubscribe function. */
  onHealthChange(fn: (d: Deployment, change: HealthChange) => void): () => void {
    this.healthListeners.add(fn);
    return () => {
      this.healthListeners.delete(fn);
    };
  }

  /** The time-to-first-byte average as of now (drifting back to the prior while unsampled). */
  get ttfbMs(): number {
    return this.ttfb.valueAt(performance.now());
  }

  /** May take one more request now: healthy (or due a trial) and below its batch capacity. */
  eligible(now: number): boolean {
    return this.outstanding < this.capacity && this.health.available(now);
  }
}
