import type { AuthService } from '../auth/auth-service.js';
import { createCopilotEndpoints } from '../auth/copilot-endpoints.js';
import type { GatewayConfig } from '../config/schema.js';
import { Policy } from '../policy/index.js';
import { openaiOrTabby, tabbyProtocol, type ProtocolChoice } from '../protocol/client/index.js';
import { createCompletionHandler } from '../proxy/completion.js';
import { Prober } from '../routing/prober.js';
import { Registry } from '../routing/registry.js';
import { Router } from '../routing/router.js';
import { createTabbyEndpoints } from './tabby-endpoints.js';

/**
 * Everything a request uses that a config reload replaces: the deployments and models, the
 * router, the policy, and the handlers built on them. Each request takes the generation current
 * when it arrives and keeps it to its end, so a reload never changes a request half-way: streams
 * in flight finish on the config they started with, new requests get the new one.
 *
 * A replaced generation is retired: its health prober stops at once (the new one probes every
 * deployment still in use) and, once its last request has ended, its router and policy close and
 * it lets go of its deployments — those the new config dropped or changed close their connections
 * then; those it kept are already the new generation's (Registry.create takes them over).
 */
export class Generation {
  readonly registry: Registry;
  readonly router: Router;
  readonly policy: Policy;
  readonly completion: ReturnType<typeof createCompletionHandler>;
  readonly copilot: ReturnType<typeof createCopilotEndpoints>;
  readonly tabby: ReturnType<typeof createTabbyEndpoints>;
  /** OpenAI's and Tabby's clients share /v1/completions: the body tells them apart. */
  readonly v1Completions: ProtocolChoice;
  readonly #prober: Prober;
  /** Completion requests started on this generation and not yet finished. */
  #inFlight = 0;
  #retired: (() => void) | undefined;
  #closed = false;

  /** Builds a generation; with `previous` (a reload), unchanged deployments are taken over. */
  static async create(
    config: GatewayConfig,
    auth: AuthService | undefined,
    previous?: Generation,
  ): Promise<Generation> {
    const gen = Generation.of(config, auth, await Registry.create(config, previous?.registry), previous);
    // A new rate-limit store connects before the swap (bounded; never rejects).
    await gen.policy.start();
    return gen;
  }

  /** A generation on a registry already built (start-up builds it before auth). */
  static of(
    config: GatewayConfig,
    auth: AuthService | undefined,
    registry: Registry,
    previous?: Generation,
  ): Generation {
    try {
      return new Generation(config, auth, registry, previous);
    } catch (err) {
      registry.destroy();
      throw err;
    }
  }

  private constructor(
    readonly config: GatewayConfig,
    auth: AuthService | undefined,
    registry: Registry,
    previous: Generation | undefined,
  ) {
    this.registry = registry;
    this.router = new Router(registry, config.routing);
    this.policy = new Policy(config.policy, previous?.policy, registry);
    this.completion = createCompletionHandler(
      registry,
      this.router,
      config.limits,
      config.routing,
      this.policy,
    );
    this.copilot = createCopilotEndpoints(auth, registry, config.limits.bodyTimeoutMs, () =>
      this.router.nearestRegionUrl(),
    );
    this.tabby = createTabbyEndpoints(
      auth,
      registry,
      config.protocols.tabby.model,
      config.limits.bodyTimeoutMs,
    );
    this.v1Completions = openaiOrTabby(tabbyProtocol(config.protocols.tabby));
    this.#prober = new Prober(registry.deployments, config.routing.health.active);
  }

  /** Starts its health prober: once it is the current generation. */
  start(): void {
    this.#prober.start();
  }

  /** A request starts on this generation; `leave` must be called exactly once when it ends. */
  enter(): void {
    this.#inFlight++;
  }

  leave(): void {
    if (--this.#inFlight === 0 && this.#retired !== undefined) this.#retired();
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * A newer generation took over: stop probing now, close once the last request has ended (or
   * after `maxWaitMs`, the longest a request may live, should a count ever go astray).
   */
  async retire(maxWaitMs: number): Promise<void> {
    this.#prober.close();
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, maxWaitMs);
        timer.unref();
        this.#retired = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await this.close();
  }

  /**
   * Closes it now: waiting requests get 503 GW_SHUTTING_DOWN, and it lets go of its
   * deployments (gracefully: streams still open finish).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#retired?.(); // a retirement still waiting for requests ends here
    this.#prober.close();
    this.router.close();
    await Promise.all([this.registry.close(), this.policy.close()]);
  }

  /** Start-up failed: let go of everything at once. */
  destroy(): void {
    this.#closed = true;
    this.#prober.close();
    this.router.close();
    this.registry.destroy();
    void this.policy.close();
  }
}
