import type { DeploymentConfig } from '../config/schema.js';
import type { Dispatcher } from '../upstream/dispatcher.js';
import { credentialHeaders } from '../upstream/credentials.js';
import { resolveEndpoint, type Endpoint } from '../upstream/endpoint.js';
import { Http1Transport } from '../upstream/h1-transport.js';
import { Http2Pool } from '../upstream/h2-pool.js';

/** One upstream endpoint serving models: where it is, how to reach it, how busy it is. */
export interface Deployment {
  readonly name: string;
  readonly adapter: DeploymentConfig['adapter'];
  readonly endpoint: Endpoint;
  readonly dispatcher: Dispatcher;
  /** Headers sent on every upstream request: content type and the deployment's own credential. */
  readonly baseHeaders: Readonly<Record<string, string>>;
}

const DEFAULT_H2_SESSIONS = 4;
const DEFAULT_H1_CONNECTIONS = 256;

/** Builds a deployment and its transport from config; secrets are resolved here, once. */
export function createDeployment(cfg: DeploymentConfig, index: number): Deployment {
  const endpoint = resolveEndpoint(cfg);
  const dispatcher: Dispatcher =
    endpoint.transport === 'h2'
      ? new Http2Pool(endpoint, {
          maxSessions: cfg.maxConnections ?? DEFAULT_H2_SESSIONS,
          connectTimeoutMs: cfg.connectTimeoutMs,
          pingIntervalMs: cfg.pingIntervalMs,
          pingTimeoutMs: cfg.pingTimeoutMs,
          resetBurst: cfg.resetBudget.burst,
          resetPerSecond: cfg.resetBudget.perSecond,
        })
      : new Http1Transport(endpoint, {
          maxConnections: cfg.maxConnections ?? DEFAULT_H1_CONNECTIONS,
          connectTimeoutMs: cfg.connectTimeoutMs,
        });
  return {
    name: cfg.name,
    adapter: cfg.adapter,
    endpoint,
    dispatcher,
    baseHeaders: Object.freeze({
      'content-type': 'application/json',
      ...credentialHeaders(cfg.credential, `deployments[${index}].credential`),
    }),
  };
}
