import type { ClientProtocolName } from '../protocol/client/protocol.js';
import type { RequestMatchConfig } from './request-match-schema.js';

/** Whether a policy (an experiment, a mirror) applies to a request: by its model and client protocol. */
export class RequestMatcher {
  /** Model names (aliases already resolved to them); undefined: any model. */
  readonly #models: ReadonlySet<string> | undefined;
  readonly #protocols: ReadonlySet<ClientProtocolName> | undefined;

  /** `modelName` maps a configured name or alias to the model's name (the one requests resolve to). */
  constructor(cfg: RequestMatchConfig | undefined, modelName: (nameOrAlias: string) => string) {
    this.#models = cfg?.model === undefined ? undefined : new Set(cfg.model.map(modelName));
    this.#protocols = cfg?.protocol === undefined ? undefined : new Set(cfg.protocol);
  }

  /** The names of the models it is limited to, or undefined when any model matches. */
  get models(): ReadonlySet<string> | undefined {
    return this.#models;
  }

  matches(model: string, protocol: ClientProtocolName): boolean {
    return (
      (this.#models === undefined || this.#models.has(model)) &&
      (this.#protocols === undefined || this.#protocols.has(protocol))
    );
  }
}
