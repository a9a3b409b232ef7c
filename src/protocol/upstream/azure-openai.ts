import type { UpstreamAdapter, UpstreamTarget } from './adapter.js';
import { completionsBody, CompletionsDecoder } from './openai.js';

/** The api-version used when a deployment names none (the schema's default, for a config without `azure`). */
const DEFAULT_API_VERSION = '2024-10-21';

/**
 * Azure OpenAI completions (`POST {base}/openai/deployments/{deployment}/completions?api-version=…`).
 * OpenAI's bytes with the model in the path (the Azure deployment) and the key in an `api-key`
 * header, which the operator configures as the deployment's credential. Azure's first stream event
 * carries `prompt_filter_results` and no choices: CompletionsDecoder reads it as an event with
 * nothing in it.
 */
export const azureOpenaiAdapter: UpstreamAdapter = {
  name: 'azure-openai',
  responseFormat: 'openai-completions',
  maxChoices: 16,
  needsFimTemplate: false,
  path: azurePath,
  body: (req, t, passThrough) => completionsBody(req, t, passThrough, { model: false }),
  decoder: () => new CompletionsDecoder(),
};

/** Built once per target (registry.ts), so the encoding here is off the request path. */
function azurePath(t: UpstreamTarget): string {
  const deployment = t.azure?.deployment ?? t.upstreamModel;
  const version = t.azure?.apiVersion ?? DEFAULT_API_VERSION;
  return `${t.basePath}/openai/deployments/${encodeURIComponent(deployment)}/completions?api-version=${encodeURIComponent(version)}`;
}
