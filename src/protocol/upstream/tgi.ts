import type { CompletionRequest, EventSink } from '../model.js';
import { SseDecoder } from '../sse.js';
import type { UpstreamAdapter, UpstreamTarget } from './adapter.js';
import { fimPrompt, mergeStops } from './fim-prompt.js';
import { inBandError, parseEvent } from './openai.js';

/** TGI refuses more stop sequences than its --max-stop-sequences (default 4) with a 422. */
const MAX_STOPS = 4;

/**
 * Hugging Face text-generation-inference (`POST {base}/generate_stream`): a raw prompt, so a
 * fill-in-the-middle request is built with the deployment's FIM template. One choice per request.
 * The stream is SSE token events, the last one carrying `details.finish_reason`; no `[DONE]`.
 * TGI leaves the stop sequence that ended the text in it: the gateway's stop filter removes it.
 * TGI's generate API has no `logit_bias`: it is not sent.
 */
export const tgiAdapter: UpstreamAdapter = {
  name: 'tgi',
  responseFormat: 'tgi',
  maxChoices: 1,
  needsFimTemplate: true,
  keepsStopSequence: true,
  path: (t) => `${t.basePath}/generate_stream`,
  body: (req, t) => Buffer.from(JSON.stringify(generateBody(req, t))),
  decoder: () => new TgiDecoder(),
};

function generateBody(req: CompletionRequest, t: UpstreamTarget): Record<string, unknown> {
  const fim = fimPrompt(req, t);
  const parameters: Record<string, unknown> = {};
  if (req.maxTokens !== undefined) parameters.max_new_tokens = req.maxTokens;
  // TGI refuses temperature 0 (it must be > 0): greedy decoding is do_sample false instead.
  // Any other temperature samples, as it does on OpenAI (TGI alone would decode greedily at 1).
  if (req.temperature === 0) parameters.do_sample = false;
  else if (req.temperature !== undefined) {
    parameters.temperature = req.temperature;
    parameters.do_sample = true;
  }
  // TGI refuses top_p outside (0, 1); 1 means no nucleus filtering anyway.
  if (req.topP !== undefined && req.topP > 0 && req.topP < 1) parameters.top_p = req.topP;
  const stop = mergeStops(req.stop, fim?.stop ?? [], MAX_STOPS);
  if (stop.length > 0) parameters.stop = stop;
  parameters.return_full_text = false;
  parameters.details = true;
  return { inputs: fim?.prompt ?? req.prompt, parameters };
}

interface TgiEvent {
  token?: { text?: unknown; special?: unknown } | null;
  details?: { finish_reason?: unknown; generated_tokens?: unknown } | null;
  error?: unknown;
}

/** Reads TGI's stream: token texts (special tokens such as `</s>` left out), the finish reason, errors. */
export class TgiDecoder extends SseDecoder {
  constructor() {
    super(tgiEvents);
  }
}

/** The events in one TGI stream payload. */
export function tgiEvents(data: string, emit: EventSink): void {
  const e = parseEvent(data) as TgiEvent;
  if (e.error !== undefined) throw inBandError(e.error);
  const token = e.token;
  if (
    typeof token === 'object' &&
    token !== null &&
    token.special !== true &&
    typeof token.text === 'string' &&
    token.text.length > 0
  )
    emit({ type: 'text', index: 0, text: token.text });
  // The last event repeats the whole text in generated_text: the tokens already carried it.
  const details = e.details;
  if (typeof details !== 'object' || details === null) return;
  // length, eos_token or stop_sequence.
  emit({ type: 'finish', index: 0, reason: details.finish_reason === 'length' ? 'length' : 'stop' });
}
