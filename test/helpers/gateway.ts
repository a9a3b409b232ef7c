import diagnostics_channel from 'node:diagnostics_channel';
import { validateConfig } from '../../src/config/load.js';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import type { RequestContext } from '../../src/proxy/context.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';

/**
 * Starts a gateway on a free port with the given deployments/models (and optional overrides).
 * Auth is off unless the test passes `auth`: tests of the data path are not about tokens.
 */
export async function gatewayFor(
  input: Partial<GatewayConfigInput> & Pick<GatewayConfigInput, 'deployments' | 'models'>,
): Promise<Gateway> {
  return startGateway(
    validateConfig({ listeners: [{ host: '127.0.0.1', port: 0 }], auth: { mode: 'none' }, ...input }),
  );
}

/** A gateway whose one model `default` (alias `copilot-codex`) routes to one upstream URL. */
export function gatewayTo(upstreamUrl: string, extra: Partial<GatewayConfigInput> = {}): Promise<Gateway> {
  return gatewayFor({
    deployments: [{ name: 'up', url: upstreamUrl }],
    models: [{ name: 'default', aliases: ['copilot-codex'], deployments: ['up'] }],
    ...extra,
  });
}

/** Collects every finished request's context while the test runs. */
export function recordRequests(): { ended: RequestContext[]; stop(): void } {
  const ended: RequestContext[] = [];
  const ch = diagnostics_channel.channel('ghostwire:request:end');
  const onEnd = (m: unknown): void => {
    ended.push(m as RequestContext);
  };
  ch.subscribe(onEnd);
  return { ended, stop: () => ch.unsubscribe(onEnd) };
}
