import { GatewayError } from '../errors/gateway-error.js';
import type { CompletionEvent } from '../protocol/model.js';
import { StopScanner } from '../protocol/stop.js';
import { IndentScanner } from '../protocol/trim.js';
import { completionsEvents, parseEvent } from '../protocol/upstream/openai.js';
import type { ClientExchange } from '../server/exchange.js';
import type { RequestContext } from './context.js';
import type { ResponseOut } from './response-out.js';

/** Per choice: what watches its text, and whether it is over. */
interface Watched {
  readonly stop: StopScanner | undefined;
  readonly trim: IndentScanner | undefined;
  done: boolean;
}

/** What a ScanOut needs besides the exchange. */
export interface ScanPlan {
  readonly choices: number;
  readonly stop: readonly string[];
  readonly trim: { nextIndent: number | undefined } | undefined;
  /** Every choice ended in the gateway: cancel the upstream. */
  onAllStopped(): void;
}

/** A bound on one SSE event held while its end has not arrived. */
const MAX_EVENT_BYTES = 1024 * 1024;
const DONE = Buffer.from('data: [DONE]\n\n');

/**
 * OpenAI-completions SSE from upstream to a client that speaks it too, with the gateway watching
 * the text for stop sequences and Copilot's block end: every complete event goes out as the
 * upstream's own bytes, untouched, unless it is where a choice must end. That event alone is
 * rewritten (its text cut, `finish_reason: "stop"`), later events of the choice are dropped, and
 * once every choice is over the stream ends with `data: [DONE]` and the upstream is cancelled so
 * the model stops. Nothing is held back (see StopScanner), so the safety net adds no latency;
 * the one cost is reading each event's text, which the common event allows without a full parse.
 */
export class ScanOut implements ResponseOut {
  readonly #watched: Watched[];
  #open: number;
  #held: Buffer | undefined;
  #started = false;
  #ended = false;
  #stoppedHere = false;
  /** Set while one event is scanned: where its choices must be cut. */
  #cuts: Map<number, number> | undefined;
  #drops: Set<number> | undefined;

  constructor(
    private readonly ex: ClientExchange,
    private readonly ctx: RequestContext,
    private readonly plan: ScanPlan,
  ) {
    this.#watched = Array.from({ length: plan.choices }, () => ({
      stop: plan.stop.length > 0 ? new StopScanner(plan.stop) : undefined,
      trim: plan.trim === undefined ? undefined : new IndentScanner(plan.trim.nextIndent),
      done: false,
    }));
    this.#open = plan.choices;
  }

  data(chunk: Buffer): boolean {
    if (this.#ended) return true;
    const buf = this.#held === undefined ? chunk : Buffer.concat([this.#held, chunk]);
    const out: Buffer[] = [];
    let start = 0;
    /** Start of a run of events passed on untouched (sent as one slice). */
    let run = 0;
    for (;;) {
      const [end, sep] = eventEnd(buf, start);
      if (end === -1) break;
      const next = end + sep;
      const rewritten = this.#scanEvent(buf.toString('utf8', start, end));
      if (rewritten !== undefined) {
        if (start > run) out.push(buf.subarray(run, start));
        if (rewritten.length > 0) out.push(Buffer.from(rewritten));
        run = next;
      }
      start = next;
      if (this.#open === 0 && this.#stoppedHere) break;
    }
    if (start > run) out.push(run === 0 && start === buf.length ? buf : buf.subarray(run, start));
    this.#held = start < buf.length ? buf.subarray(start) : undefined;
    if ((this.#held?.length ?? 0) > MAX_EVENT_BYTES)
      throw new GatewayError('GW_UPSTREAM_BAD_RESPONSE', {
        detail: 'An SSE event from the model server is too large.',
      });
    if (this.#open === 0 && this.#stoppedHere) {
      out.push(DONE);
      this.#write(out);
      this.#end();
      this.plan.onAllStopped();
      return true;
    }
    return this.#write(out);
  }

  end(): void {
    if (this.#ended) return;
    // A last event without its blank line: scan and pass it on like the others.
    if (this.#held !== undefined && this.#held.length > 0) {
      const rest = this.#held;
      this.#held = undefined;
      const rewritten = this.#scanEvent(rest.toString('utf8'));
      this.#write([rewritten === undefined ? rest : Buffer.from(rewritten)]);
    }
    this.#end();
  }

  /**
   * Watches one event's choices; returns undefined to pass it on as it came, '' to drop it, or
   * its rewritten bytes. Throws on an in-band error or an event that is not JSON.
   */
  #scanEvent(event: string): string | undefined {
    const data = dataOf(event);
    if (data === undefined || data === '[DONE]') return undefined;
    this.#cuts = undefined;
    this.#drops = undefined;
    completionsEvents(data, this.#onEvent);
    if (this.#cuts === undefined && this.#drops === undefined) return undefined;
    return this.#rewrite(data);
  }

  readonly #onEvent = (e: CompletionEvent): void => {
    if (e.type === 'usage') return this.ctx.tokens?.usage(e.completionTokens);
    // Generated, so counted, even when the gateway has already ended the choice.
    if (e.type === 'text') this.ctx.tokens?.text();
    const w = this.#watched[e.index];
    if (w === undefined || w.done) {
      (this.#drops ??= new Set()).add(e.index);
      return;
    }
    if (e.type === 'finish') {
      w.done = true;
      this.#open--;
      return;
    }
    let cut = w.stop?.scan(e.text) ?? -1;
    const trimCut = w.trim?.scan(cut === -1 ? e.text : e.text.slice(0, cut)) ?? -1;
    if (trimCut !== -1) cut = trimCut;
    if (cut === -1) return;
    w.done = true;
    this.#open--;
    this.#stoppedHere = true;
    (this.#cuts ??= new Map()).set(e.index, cut);
  };

  /** The event with cut choices ended at their cut and over choices left out. */
  #rewrite(data: string): string {
    const obj = parseEvent(data) as { choices?: Record<string, unknown>[] };
    const kept: Record<string, unknown>[] = [];
    for (const c of obj.choices ?? []) {
      const index = typeof c.index === 'number' ? c.index : 0;
      const cut = this.#cuts?.get(index);
      if (cut !== undefined) {
        kept.push({
          ...c,
          text: typeof c.text === 'string' ? c.text.slice(0, cut) : '',
          finish_reason: 'stop',
        });
      } else if (this.#drops?.has(index) !== true) kept.push(c);
    }
    if (kept.length === 0) return '';
    return `data: ${JSON.stringify({ ...obj, choices: kept })}\n\n`;
  }

  #start(): void {
    this.#started = true;
    this.ctx.markFirstByte();
    this.ex.respond(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-request-id': this.ctx.id,
    });
  }

  #write(parts: Buffer[]): boolean {
    if (parts.length === 0) return true;
    if (!this.#started) this.#start();
    let ok = true;
    for (const p of parts) {
      this.ctx.bytesOut += p.length;
      ok = this.ex.write(p);
    }
    return ok;
  }

  #end(): void {
    this.#ended = true;
    if (!this.#started) this.#start();
    this.ex.end();
  }
}

const LF = 10;
const CR = 13;

/** Where the next event in `buf` ends (its blank line) and the separator's length, or [-1, 0]. */
function eventEnd(buf: Buffer, from: number): [number, number] {
  for (let i = buf.indexOf(LF, from); i !== -1; i = buf.indexOf(LF, i + 1)) {
    const next = buf[i + 1];
    if (next === LF) return [i, 2];
    // CRLF framing: \r\n\r\n
    if (next === CR && buf[i + 2] === LF && buf[i - 1] === CR) return [i - 1, 4];
  }
  return [-1, 0];
}

/** The `data` of one event (its data lines joined), or undefined for a comment-only event. */
function dataOf(event: string): string | undefined {
  if (event.startsWith('data: ') && !event.includes('\n')) return event.slice(6);
  let data: string | undefined;
  for (const raw of event.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith('data:')) continue;
    const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}
