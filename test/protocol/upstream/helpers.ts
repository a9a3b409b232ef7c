// Shared pieces of the upstream adapter unit tests: requests as a client protocol decodes them,
// targets as the registry builds them, and a decoder driven over every way a stream can be cut.
import assert from 'node:assert/strict';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { openaiProtocol } from '../../../src/protocol/client/openai.js';
import { compileFimTemplate, type FimTemplateName } from '../../../src/protocol/fim-templates.js';
import type { CompletionEvent, CompletionRequest } from '../../../src/protocol/model.js';
import type { StreamDecoder, UpstreamTarget } from '../../../src/protocol/upstream/index.js';
import { modelFieldBytes } from '../../../src/protocol/upstream/openai.js';

/** A request as the OpenAI client protocol decodes `body` (model `m` unless the body names one). */
export function request(body: Record<string, unknown>): CompletionRequest {
  const full = { model: 'm', ...body };
  const raw = Buffer.from(JSON.stringify(full));
  return openaiProtocol.decode({
    body: full,
    raw,
    engine: undefined,
    client: { editor: undefined, plugin: undefined, session: undefined },
  });
}

/** A target as routing/registry.ts builds one. */
export function target(
  opts: {
    basePath?: string;
    upstreamModel?: string;
    fimTemplate?: FimTemplateName;
    azure?: { deployment: string; apiVersion: string };
  } = {},
): UpstreamTarget {
  const upstreamModel = opts.upstreamModel ?? 'up-model';
  return {
    basePath: opts.basePath ?? '',
    upstreamModel,
    modelField: modelFieldBytes(upstreamModel),
    fimTemplate: opts.fimTemplate === undefined ? undefined : compileFimTemplate(opts.fimTemplate),
    azure: opts.azure,
  };
}

/** The JSON of a body an adapter built. */
export function json(body: Buffer): Record<string, unknown> {
  return JSON.parse(body.toString('utf8')) as Record<string, unknown>;
}

/** Feeds `pieces` to a fresh decoder, then ends it; returns the events in order. */
export function decode(make: () => StreamDecoder, pieces: readonly Buffer[]): CompletionEvent[] {
  const events: CompletionEvent[] = [];
  const emit = (e: CompletionEvent): void => {
    events.push(e);
  };
  const d = make();
  for (const p of pieces) d.push(p, emit);
  d.end(emit);
  return events;
}

/**
 * Decodes `stream` whole, byte by byte, and cut in two at every byte (inside a UTF-8 character, a
 * line end, a `data:` prefix...): every way must give the same events, which are returned.
 */
export function decodeEverySplit(make: () => StreamDecoder, stream: string): CompletionEvent[] {
  const bytes = Buffer.from(stream, 'utf8');
  const whole = decode(make, [bytes]);
  const oneByOne = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  assert.deepEqual(decode(make, oneByOne), whole, 'fed one byte at a time');
  for (let at = 1; at < bytes.length; at++)
    assert.deepEqual(
      decode(make, [bytes.subarray(0, at), bytes.subarray(at)]),
      whole,
      `cut at byte ${at} of ${bytes.length}`,
    );
  return whole;
}

/** The text of choice `index` in decoded events. */
export function textOf(events: readonly CompletionEvent[], index = 0): string {
  let text = '';
  for (const e of events) if (e.type === 'text' && e.index === index) text += e.text;
  return text;
}

/** Asserts that decoding `stream` throws a GatewayError with `code` (and nothing else). */
export function assertDecodeThrows(make: () => StreamDecoder, stream: string, code: string): void {
  assert.throws(
    () => decode(make, [Buffer.from(stream, 'utf8')]),
    (err: unknown) => err instanceof GatewayError && err.code === code,
  );
}
