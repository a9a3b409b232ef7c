import type { AdapterName, UpstreamAdapter } from './adapter.js';
import { codestralAdapter } from './codestral.js';
import { copilotAdapter } from './copilot.js';
import { openaiAdapter } from './openai.js';

/** Every upstream adapter by its config name. Adding a format: one file and one line here. */
export const UPSTREAM_ADAPTERS: Readonly<Partial<Record<AdapterName, UpstreamAdapter>>> = {
  openai: openaiAdapter,
  copilot: copilotAdapter,
  codestral: codestralAdapter,
};

/** The adapter a deployment names; the schema only lets known names through. */
export function upstreamAdapter(name: AdapterName): UpstreamAdapter {
  const a = UPSTREAM_ADAPTERS[name];
  if (a === undefined) throw new Error(`adapter "${name}" is not available in this build`);
  return a;
}

export type { AdapterName, StreamDecoder, UpstreamAdapter, UpstreamTarget } from './adapter.js';
