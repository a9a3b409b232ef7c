// Micro-benchmark of what the protocol layer costs per completion (issue 5): the answer's path
// from upstream bytes to client bytes, no sockets. The upstream streams are real ones, written
// by the simulator's own encoder for each format (one chunk per token, as a server sends them);
// the client is Copilot (the common editor). For each adapter the gateway takes the path it would
// take in production (untouched, watched or re-encoded: src/proxy/attempt.ts planResponse).
// Prints a markdown table and checks that every path delivers the same text.
//
//   npx tsc -p . && node dist/bench/protocols.js [--iterations 50000] [--runs 5]
import { parseArgs } from 'node:util';
import { copilotProtocol } from '../src/protocol/client/copilot.js';
import { openaiProtocol } from '../src/protocol/client/openai.js';
import type { ClientProtocol } from '../src/protocol/client/protocol.js';
import type { CompletionRequest } from '../src/protocol/model.js';
import { UPSTREAM_ADAPTERS, type AdapterName } from '../src/protocol/upstream/index.js';
import type { RequestContext } from '../src/proxy/context.js';
import { PassThroughOut, TranscodeOut, type ResponseOut } from '../src/proxy/response-out.js';
import { ScanOut } from '../src/proxy/scan-out.js';
import type { ClientExchange } from '../src/server/exchange.js';
import { azure } from '../src/simulator/formats/azure.js';
import { codestral } from '../src/simulator/formats/codestral.js';
import type { WireFormat } from '../src/simulator/formats/format.js';
import { llamacppInfill } from '../src/simulator/formats/llamacpp.js';
import { ollama } from '../src/simulator/formats/ollama.js';
import { openai } from '../src/simulator/formats/openai.js';
import { tgiGenerateStream as tgi } from '../src/simulator/formats/tgi.js';
import { median } from './stats.js';

const { values: args } = parseArgs({
  options: { iterations: { type: 'string', default: '50000' }, runs: { type: 'string', default: '5' } },
});
const ITERATIONS = Number(args.iterations);
const RUNS = Number(args.runs);

/** Ten tokens of code, as a model emits them. */
const TOKENS = ['function', ' parse', 'Range', '(header', ': string', ')', ' {\n', '  if', ' (!header', ')'];
const STOP = ['\n\n\n'];

/** One upstream answer in a format's own bytes, one chunk per token, then its finish and end. */
function upstreamStream(format: WireFormat, body: Record<string, unknown>): Buffer[] {
  const parsed = format.parse(body, {
    ...format.defaults,
    stream: true,
    pathModel: 'm',
    maxTokensCap: 1000,
  });
  if (!parsed.ok) throw new Error(`${format.name}: ${parsed.message}`);
  const enc = format.encoder(parsed.request, parsed.options, { ttftMs: 1, tokenMs: 1 });
  const chunks = TOKENS.map((t) => Buffer.from(enc.chunk(0, t)));
  const choice = { index: 0, text: '', tokens: TOKENS.length, finishReason: 'length' as const, stopWord: '' };
  chunks.push(Buffer.from(enc.finish(choice, '') + enc.end()));
  return chunks;
}

/** A client that takes everything at once and keeps the text it was sent. */
class NullExchange {
  readonly parts: (Buffer | string)[] = [];
  respond(): void {}
  write(chunk: Buffer | string): boolean {
    this.parts.push(chunk);
    return true;
  }
  get sent(): string {
    return this.parts.map((p) => (typeof p === 'string' ? p : p.toString())).join('');
  }
  end(chunk?: Buffer | string): void {
    if (chunk !== undefined) this.write(chunk);
  }
  onDrain(): void {}
}
const CTX = { id: 'r', bytesOut: 0, markFirstByte() {} } as unknown as RequestContext;

function request(protocol: ClientProtocol, stream: boolean, stop: readonly string[]): CompletionRequest {
  return {
    prompt: 'x',
    suffix: '',
    maxTokens: TOKENS.length,
    temperature: 0,
    topP: undefined,
    n: 1,
    stop,
    stream,
    language: undefined,
    logprobs: undefined,
    seed: undefined,
    logitBias: undefined,
    model: 'm',
    filepath: undefined,
    extra: undefined,
    client: { editor: undefined, plugin: undefined, session: undefined },
    origin: 'openai-completions',
    raw: Buffer.from('{}'),
    body: protocol === copilotProtocol ? {} : { model: 'm' },
  };
}

interface Case {
  name: string;
  way: 'untouched' | 'watched' | 're-encoded';
  chunks: Buffer[];
  make: (ex: NullExchange) => ResponseOut;
}

function out(adapter: AdapterName, protocol: ClientProtocol, stream: boolean, stop: readonly string[]) {
  const a = UPSTREAM_ADAPTERS[adapter];
  const req = request(protocol, stream, stop);
  const ex = (e: NullExchange): ClientExchange => e as unknown as ClientExchange;
  const same = protocol.responseFormat === a.responseFormat && stream;
  if (same && stop.length === 0)
    return {
      way: 'untouched' as const,
      make: (e: NullExchange) => new PassThroughOut(ex(e), CTX, 'text/event-stream'),
    };
  if (same)
    return {
      way: 'watched' as const,
      make: (e: NullExchange) =>
        new ScanOut(ex(e), CTX, { choices: 1, stop, trim: undefined, onAllStopped() {} }),
    };
  return {
    way: 're-encoded' as const,
    make: (e: NullExchange) =>
      new TranscodeOut(ex(e), CTX, {
        decoder: a.decoder(req),
        encoder: protocol.encoder(req, { id: 'cmpl-r', created: 1, model: 'm' }),
        choices: 1,
        stop,
        trim: undefined,
        onAllStopped() {},
      }),
  };
}

/** Each adapter's format, with a minimal request body in that format (for the encoder's options). */
const FORMATS: [AdapterName, WireFormat, Record<string, unknown>][] = [
  ['openai', openai, { model: 'm', prompt: 'x', max_tokens: 10, stream: true }],
  ['azure-openai', azure, { prompt: 'x', max_tokens: 10, stream: true }],
  ['llamacpp', llamacppInfill, { input_prefix: 'x', input_suffix: '', n_predict: 10, stream: true }],
  ['ollama', ollama, { model: 'm', prompt: 'x', options: { num_predict: 10 } }],
  ['tgi', tgi, { inputs: 'x', parameters: { max_new_tokens: 10 } }],
  ['codestral', codestral, { model: 'm', prompt: 'x', max_tokens: 10, stream: true }],
];

const cases: Case[] = [];
const openaiChunks = upstreamStream(openai, { model: 'm', prompt: 'x', max_tokens: 10, stream: true });
cases.push({
  name: 'Copilot → openai, no stop',
  chunks: openaiChunks,
  ...out('openai', copilotProtocol, true, []),
});
for (const [adapter, format, body] of FORMATS)
  cases.push({
    name: `Copilot → ${adapter}, stop`,
    chunks: upstreamStream(format, body),
    ...out(adapter, copilotProtocol, true, STOP),
  });
cases.push({
  name: 'OpenAI (JSON answer) → openai',
  chunks: openaiChunks,
  ...out('openai', openaiProtocol, false, []),
});

function run(c: Case, n: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const o = c.make(new NullExchange());
    for (const chunk of c.chunks) o.data(chunk);
    o.end();
  }
  return Number(process.hrtime.bigint() - started) / 1000 / n;
}

/** The text a client would read from what was sent (SSE text_completion events or one JSON body). */
function textOf(sent: string): string {
  if (sent.startsWith('{'))
    return (JSON.parse(sent) as { choices: { text: string }[] }).choices[0]?.text ?? '';
  let text = '';
  for (const line of sent.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const c = (JSON.parse(line.slice(6)) as { choices: { text?: string }[] }).choices[0];
    text += c?.text ?? '';
  }
  return text;
}

const expected = TOKENS.join('');
for (const c of cases) {
  const ex = new NullExchange();
  const o = c.make(ex);
  for (const chunk of c.chunks) o.data(chunk);
  o.end();
  if (textOf(ex.sent) !== expected)
    throw new Error(`${c.name}: the client got ${JSON.stringify(textOf(ex.sent))}`);
}

const results = cases.map((c) => {
  run(c, Math.min(ITERATIONS, 5000)); // warm up
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) times.push(run(c, ITERATIONS));
  return { c, us: median(times) };
});

process.stdout.write(
  '| Client → adapter | Way | µs per completion (11 chunks) | µs per chunk |\n| --- | --- | ---: | ---: |\n',
);
for (const { c, us } of results)
  process.stdout.write(
    `| ${c.name} | ${c.way} | ${us.toFixed(2)} | ${(us / c.chunks.length).toFixed(2)} |\n`,
  );
process.stdout.write(
  `\nMedian of ${RUNS} runs × ${ITERATIONS} completions, one process, no sockets; every path delivered the same text.\n`,
);
