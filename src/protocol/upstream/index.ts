import type { AdapterName, UpstreamAdapter } from './adapter.js';
import { azureOpenaiAdapter } from './azure-openai.js';
import { codestralAdapter } from './codestral.js';
import { copilotAdapter } from './copilot.js';
import { llamacppAdapter } from './llamacpp.js';
import { ollamaAdapter } from './ollama.js';
import { openaiAdapter } from './openai.js';
import { tgiAdapter } from './tgi.js';
import { vllmAdapter } from './vllm.js';

/** Every upstream adapter by its config name. Adding a format: one file and one line here. */
export const UPSTREAM_ADAPTERS: Readonly<Record<AdapterName, UpstreamAdapter>> = {
  openai: openaiAdapter,
  copilot: copilotAdapter,
  'azure-openai': azureOpenaiAdapter,
  vllm: vllmAdapter,
  llamacpp: llamacppAdapter,
  ollama: ollamaAdapter,
  tgi: tgiAdapter,
  codestral: codestralAdapter,
};

/** The adapter a deployment names (the record is complete: every name the schema takes has one). */
export function upstreamAdapter(name: AdapterName): UpstreamAdapter {
  return UPSTREAM_ADAPTERS[name];
}

export type { AdapterName, StreamDecoder, UpstreamAdapter, UpstreamTarget } from './adapter.js';
