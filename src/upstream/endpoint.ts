import { readFileSync } from 'node:fs';
import type { DeploymentConfig } from '../config/schema.js';

/** A deployment's URL resolved into what a transport needs. */
export interface Endpoint {
  /** The origin a transport connects to, always http: or https: (h2c:// maps to http:). */
  origin: string;
  /** Path prefix from the URL, without a trailing slash ('' when none). */
  basePath: string;
  transport: 'h1' | 'h2';
  tls: boolean;
  ca: Buffer | undefined;
  servername: string | undefined;
  rejectUnauthorized: boolean;
}

/**
 * Resolves a deployment URL: http:// is HTTP/1.1, h2c:// cleartext HTTP/2, https:// is HTTP/2 over
 * TLS (ALPN h2) unless `protocol: h1` says the server only speaks HTTP/1.1.
 */
export function resolveEndpoint(d: Pick<DeploymentConfig, 'url' | 'protocol' | 'tls'>): Endpoint {
  const url = new URL(d.url);
  const tls = url.protocol === 'https:';
  const origin = `${tls ? 'https:' : 'http:'}//${url.host}`;
  return {
    origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    transport: transportOf(d),
    tls,
    ca: d.tls?.caFile === undefined ? undefined : readFileSync(d.tls.caFile),
    servername: d.tls?.serverName,
    rejectUnauthorized: d.tls?.rejectUnauthorized ?? true,
  };
}

/** Which protocol a deployment is spoken to in: its URL scheme, unless `protocol` says otherwise. */
export function transportOf(d: Pick<DeploymentConfig, 'url' | 'protocol'>): 'h1' | 'h2' {
  const scheme = new URL(d.url).protocol;
  if (scheme === 'h2c:') return 'h2';
  if (scheme === 'http:') return d.protocol === 'h2' ? 'h2' : 'h1';
  return d.protocol === 'h1' ? 'h1' : 'h2';
}
