import type { GatewayConfigInput } from './schema.js';

/** Names a Copilot client may send as its engine, mapped to the embedded default's one model. */
export const COPILOT_ENGINE_ALIASES = ['copilot-codex', 'gpt-41-copilot', 'gpt-4o-copilot'];

/** Deployments and models for `--upstream URL ...`: every model name routes to those endpoints unchanged. */
export function routesForUpstreams(urls: string[]): Pick<GatewayConfigInput, 'deployments' | 'models'> {
  const deployments = urls.map((url, i) => ({ name: `upstream-${i}`, url }));
  return { deployments, models: [{ name: '*', deployments: deployments.map((d) => d.name) }] };
}

/** Config for `serve --upstream URL ...` without a config file. */
export function configForUpstreams(urls: string[], auth: GatewayConfigInput['auth']): GatewayConfigInput {
  return { auth, ...routesForUpstreams(urls) };
}

/** Config for the embedded default: one model `default` on the in-process simulator. */
export function configForEmbedded(
  simulatorPort: number,
  auth: GatewayConfigInput['auth'],
): GatewayConfigInput {
  return {
    auth,
    deployments: [{ name: 'embedded-simulator', url: `h2c://127.0.0.1:${simulatorPort}`, adapter: 'openai' }],
    models: [{ name: 'default', aliases: COPILOT_ENGINE_ALIASES, deployments: ['embedded-simulator'] }],
  };
}
