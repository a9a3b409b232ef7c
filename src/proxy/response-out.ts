import type { ClientEncoder } from '../protocol/client/protocol.js';
import type { CompletionEvent, FinishReason } from '../protocol/model.js';
import { StopFilter } from '../protocol/stop.js';
import { IndentTrimmer } from '../protocol/trim.js';
import type { StreamDecoder } from '../protocol/upstream/adapter.js';
import { inBandError } from '../protocol/upstream/openai.js';
import type { ClientExchange } from '../server/exchange.js';
import type { RequestContext } from './context.js';

/** How one attempt's upstream answer reaches the client. */
export interface ResponseOut {
  /** Upstream body bytes; false when the client's buffer is full (wait for its drain). */
  data(chunk: Buffer): boolean;
  /** The upstream ended its answer cleanly. */
  end(): void;
}

/** Sends the 200 and its headers, and notes when the client got its first byte. */
function startResponse(ex: ClientExchange, ctx: RequestContext, contentType: string): void {
  ctx.markFirstByte();
  ex.respond(200, { 'content-type': contentType, 'cache-control': 'no-cache', 'x-request-id': ctx.id });
}

/**
 * The fast path: the upstream answers in the client's own format and nothing in the text needs
 * the gateway, so bytes go out as they arrive, untouched.
 */
export class PassThroughOut implements ResponseOut {
  #started = false;

  constructor(
    private readonly ex: ClientExchange,
    private readonly ctx: RequestContext,
    private readonly contentType: string,
  ) {}

  data(chunk: Buffer): boolean {
    // An error the server reports inside its stream may echo the prompt: the client gets the
    // gateway's own error instead (Attempt catches the throw). Found with one native search.
    if (chunk.indexOf(ERROR_KEY) !== -1 && carriesError(chunk)) throw inBandError(undefined);
    if (!this.#started) {
      this.#started = true;
      startResponse(this.ex, this.ctx, this.contentType);
    }
    this.ctx.tokens?.sse(chunk);
    this.ctx.bytesOut += chunk.length;
    return this.ex.write(chunk);
  }

  end(): void {
    if (!this.#started) startResponse(this.ex, this.ctx, this.contentType);
    this.ex.end();
  }
}

const ERROR_KEY = Buffer.from('"error":');

/**
 * True when an SSE event in `chunk` is a JSON object with a top-level `error` (the key can also
 * be a top-logprobs token, so the event is parsed to be sure).
 */
function carriesError(chunk: Buffer): boolean {
  for (const event of chunk.toString('utf8').split(/\r?\n\r?\n/)) {
    const data = event.replace(/^data: ?/m, '');
    if (!data.includes('"error":')) continue;
    try {
      const v = JSON.parse(data) as unknown;
      if (typeof v === 'object' && v !== null && Object.hasOwn(v, 'error')) return true;
    } catch {
      // a partial or non-JSON event: not an error we can recognise
    }
  }
  return false;
}

/** Per choice: the gateway's stop and indentation filters, and whether the choice is over. */
interface ChoiceState {
  readonly stop: StopFilter | undefined;
  readonly trim: IndentTrimmer | undefined;
  done: boolean;
}

/** What a TranscodeOut needs besides the exchange. */
export interface TranscodePlan {
  /** The upstream stream's decoder; with one stream per choice (fan-out) each leg brings its own. */
  readonly decoder: StreamDecoder;
  readonly encoder: ClientEncoder;
  readonly choices: number;
  readonly stop: readonly string[];
  /** Copilot's trim_by_indentation, when asked for. */
  readonly trim: { nextIndent: number | undefined } | undefined;
  /** Every choice ended in the gateway (a stop sequence, the block closed): cancel the upstream. */
  onAllStopped(): void;
}

/**
 * The general path: the upstream's stream is decoded into events, each choice's text runs
 * through the gateway's stop and indentation filters, and the client's encoder writes its own
 * format. When every choice has ended in the gateway, the response ends at once and the
 * upstream is cancelled, so the model stops generating text nobody will see. A non-streaming
 * client gets one body when the upstream stream ends.
 */
export class TranscodeOut implements ResponseOut {
  readonly #choices: ChoiceState[];
  readonly #streaming: boolean;
  #open = 0;
  #started = false;
  #ended = false;
  #stoppedHere = false;
  #pending = '';
  readonly #onEvent = (e: CompletionEvent): void => this.#event(e);

  constructor(
    private readonly ex: ClientExchange,
    private readonly ctx: RequestContext,
    private readonly plan: TranscodePlan,
  ) {
    this.#streaming = plan.encoder.contentType === 'text/event-stream';
    this.#choices = Array.from({ length: plan.choices }, () => ({
      stop: plan.stop.length > 0 ? new StopFilter(plan.stop) : undefined,
      trim: plan.trim === undefined ? undefined : new IndentTrimmer(plan.trim.nextIndent),
      done: false,
    }));
    this.#open = plan.choices;
  }

  /** Throws a GatewayError when the upstream's bytes are not its format or carry an error. */
  data(chunk: Buffer): boolean {
    if (this.#ended) return true;
    this.plan.decoder.push(chunk, this.#onEvent);
    return this.#settle();
  }

  end(): void {
    if (this.#ended) return;
    this.plan.decoder.end(this.#onEvent);
    this.#finishAll();
  }

  /**
   * Fan-out: bytes of the upstream stream that carries only choice `index` (its events say index
   * 0), read with that stream's own decoder.
   */
  legData(index: number, decoder: StreamDecoder, chunk: Buffer): boolean {
    if (this.#ended) return true;
    // Each leg's usage covers one choice only: left out rather than reported as the whole.
    decoder.push(chunk, (e) => e.type !== 'usage' && this.#event({ ...e, index }));
    return this.#settle();
  }

  /** Fan-out: choice `index`'s stream ended; the response ends when every leg has. */
  legEnd(index: number, decoder: StreamDecoder, last: boolean): void {
    if (this.#ended) return;
    decoder.end((e) => e.type !== 'usage' && this.#event({ ...e, index }));
    this.#finishChoice(index, 'stop');
    if (last) this.#finishAll();
    else this.#settle();
  }

  /** Writes what the input produced; ends the response at once when every choice stopped here. */
  #settle(): boolean {
    if (this.#open === 0 && this.#stoppedHere) {
      this.#finishResponse();
      this.plan.onAllStopped();
      return true;
    }
    return this.#flush();
  }

  #finishAll(): void {
    // An upstream that ended without finishing a choice: what it sent is the whole choice.
    for (let i = 0; i < this.#choices.length; i++) this.#finishChoice(i, 'stop');
    this.#finishResponse();
  }

  #event(e: CompletionEvent): void {
    if (e.type === 'usage') {
      this.ctx.tokens?.usage(e.completionTokens);
      return this.#emit(e);
    }
    // Generated, so counted, even when the gateway has already ended the choice.
    if (e.type === 'text') this.ctx.tokens?.text();
    const c = this.#choices[e.index];
    if (c === undefined || c.done) return; // a choice we did not ask for, or one already over
    if (e.type === 'finish') return this.#finishChoice(e.index, e.reason);
    let text = e.text;
    if (c.stop !== undefined) text = c.stop.push(text);
    if (c.trim !== undefined && text.length > 0) text = c.trim.push(text);
    if (text.length > 0)
      this.#emit(e.logprobs === undefined ? { type: 'text', index: e.index, text } : { ...e, text });
    if (c.stop?.stopped === true || c.trim?.stopped === true) {
      this.#stoppedHere = true;
      this.#close(e.index, 'stop');
    }
  }

  /** The upstream finished a choice: text held back for a possible stop is released first. */
  #finishChoice(index: number, reason: FinishReason): void {
    const c = this.#choices[index];
    if (c === undefined || c.done) return;
    let rest = c.stop?.flush() ?? '';
    if (c.trim !== undefined) rest = c.trim.push(rest) + c.trim.flush();
    if (rest.length > 0) this.#emit({ type: 'text', index, text: rest });
    this.#close(index, c.stop?.stopped === true || c.trim?.stopped === true ? 'stop' : reason);
  }

  #close(index: number, reason: FinishReason): void {
    const c = this.#choices[index] as ChoiceState;
    c.done = true;
    this.#open--;
    this.#emit({ type: 'finish', index, reason });
  }

  #emit(e: CompletionEvent): void {
    this.#pending += this.plan.encoder.event(e);
  }

  /** Writes what the last upstream chunk produced, as one write. */
  #flush(): boolean {
    if (this.#pending.length === 0) return true;
    if (!this.#started) {
      this.#started = true;
      startResponse(this.ex, this.ctx, this.plan.encoder.contentType);
    }
    const out = this.#pending;
    this.#pending = '';
    this.ctx.bytesOut += out.length;
    return this.ex.write(out);
  }

  #finishResponse(): void {
    this.#ended = true;
    const tail = this.plan.encoder.end();
    if (this.#streaming) {
      this.#pending += tail;
      this.#flush();
      if (!this.#started) startResponse(this.ex, this.ctx, this.plan.encoder.contentType);
      this.ex.end();
      return;
    }
    this.ctx.markFirstByte();
    this.ex.respond(200, {
      'content-type': this.plan.encoder.contentType,
      'content-length': Buffer.byteLength(tail),
      'x-request-id': this.ctx.id,
    });
    this.ctx.bytesOut += tail.length;
    this.ex.end(tail);
  }
}
