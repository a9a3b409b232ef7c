import type { GatewayConfigInput } from './schema.js';

/** Names a Copilot client may send as its engine, mapped to the embedded default's one model. */
export const COPILOT_ENGINE_ALIASES = ['copilot-codex', 'gpt-41-copilot', 'gpt-4o-copilot'];

/**
 * Config for `serve --upstream URL ...`: every model name routes to those endpoints, and the
 * client's model name goes upstream unchanged.
 */
export function configForUpstreams(urls: string[]): GatewayConfigInput {
  const deployments = urls.map((url, i) => ({ name: `upstream-${i}`, url }));
  return {
    deployments,
    models: [{ name: '*', deployments: deployments.map((d) => d.name) }],
  };
}

/** Config for the embedded default: one model `default` on the in-process simulator. */
export function configForEmbedded(simulatorPort: number): GatewayConfigInput {
  return {
    deployments: [{ name: 'embedded-simulator', url: `h2c://127.0.0.1:${simulatorPort}`, adapter: 'openai' }],
    models: [{ name: 'default', aliases: COPILOT_ENGINE_ALIASES, deployments: ['embedded-simulator'] }],
  };
}
