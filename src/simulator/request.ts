/** A validated completion request, as the generation needs it. */
export interface CompletionRequest {
  model: string;
  prompt: string;
  suffix: string;
  maxTokens: number;
  temperature: number;
  n: number;
  stop: readonly string[];
  stream: boolean;
}

/** What differs between the OpenAI route and the Copilot engine route. */
export interface RouteDefaults {
  /** The engine from the path (Copilot); undefined means the body's `model` names it. */
  engine: string | undefined;
  maxTokens: number;
  stream: boolean;
}

export type ParseResult =
  { ok: true; request: CompletionRequest } | { ok: false; param: string; message: string };

const MAX_CHOICES = 16;
const MAX_STOPS = 16;
const DEFAULT_MODEL = 'ghostwire-sim';

/**
 * Reads the fields the simulator uses and ignores the rest (clients send extras such as `extra`,
 * `nwo`, `top_p`). A known field of the wrong type is refused, as OpenAI does.
 */
export function parseCompletionRequest(
  body: unknown,
  route: RouteDefaults,
  maxTokensCap: number,
): ParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, param: '', message: 'The request body must be a JSON object.' };
  }
  const b = body as Record<string, unknown>;
  const fail = (param: string, want: string): ParseResult => ({
    ok: false,
    param,
    message: `'${param}' must be ${want}.`,
  });

  let model = route.engine;
  if (model === undefined) {
    if (b.model !== undefined && b.model !== null && typeof b.model !== 'string')
      return fail('model', 'a string');
    model = typeof b.model === 'string' && b.model.length > 0 ? b.model : DEFAULT_MODEL;
  }

  let prompt = '';
  if (typeof b.prompt === 'string') prompt = b.prompt;
  else if (Array.isArray(b.prompt) && b.prompt.every((p) => typeof p === 'string')) {
    // A batch of prompts: the simulator answers the first, which is all completion clients send.
    prompt = b.prompt[0] ?? '';
  } else if (b.prompt !== undefined && b.prompt !== null) return fail('prompt', 'a string');

  if (b.suffix !== undefined && b.suffix !== null && typeof b.suffix !== 'string')
    return fail('suffix', 'a string');
  const suffix = typeof b.suffix === 'string' ? b.suffix : '';

  let maxTokens = route.maxTokens;
  if (b.max_tokens !== undefined && b.max_tokens !== null) {
    if (!isInt(b.max_tokens, 0)) return fail('max_tokens', 'an integer >= 0');
    maxTokens = b.max_tokens;
  }
  maxTokens = Math.min(maxTokens, maxTokensCap);

  let temperature = 1;
  if (b.temperature !== undefined && b.temperature !== null) {
    if (typeof b.temperature !== 'number' || !(b.temperature >= 0 && b.temperature <= 2)) {
      return fail('temperature', 'a number between 0 and 2');
    }
    temperature = b.temperature;
  }

  let n = 1;
  if (b.n !== undefined && b.n !== null) {
    if (!isInt(b.n, 1) || b.n > MAX_CHOICES) return fail('n', `an integer from 1 to ${MAX_CHOICES}`);
    n = b.n;
  }

  let stop: string[] = [];
  if (typeof b.stop === 'string') stop = [b.stop];
  else if (
    Array.isArray(b.stop) &&
    b.stop.every((s) => typeof s === 'string') &&
    b.stop.length <= MAX_STOPS
  ) {
    stop = b.stop;
  } else if (b.stop !== undefined && b.stop !== null) {
    return fail('stop', `a string or an array of at most ${MAX_STOPS} strings`);
  }

  let stream = route.stream;
  if (b.stream !== undefined && b.stream !== null) {
    if (typeof b.stream !== 'boolean') return fail('stream', 'a boolean');
    stream = b.stream;
  }

  return {
    ok: true,
    request: {
      model,
      prompt,
      suffix,
      maxTokens,
      temperature,
      n,
      stop: stop.filter((s) => s.length > 0),
      stream,
    },
  };
}

function isInt(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}
