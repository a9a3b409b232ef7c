import type { BatchMember, DecodeBatch } from './batch.js';
import type { Exchange } from './exchange.js';
import type { ChoiceResult, ErrorReply, FinishReason, ResponseEncoder } from './formats/format.js';
import { estimateTokens } from './formats/format.js';
import { CodeGenerator } from './generator.js';
import type { CompletionRequest } from './request.js';
import type { SlotLease } from './scheduler.js';
import type { SimulatorCounters } from './stats.js';
import { StopMatcher } from './stop.js';

export type GenerationOutcome = 'completed' | 'cancelled' | 'faulted';

/** Everything one generation needs, decided before it takes its slot. */
export interface GenerationPlan {
  request: CompletionRequest;
  encoder: ResponseEncoder;
  /** The code the model continues (see codeContext): at most CONTEXT_WINDOW_CHARS. */
  context: string;
  ttftMs: number;
  tokenMs: number;
  /** Inject a fault once this many tokens were delivered; undefined = never. */
  faultAfterTokens: number | undefined;
  /**
   * 'close' breaks the response abruptly (x-sim-close-after); 'error' reports an error in-band and
   * ends the response cleanly (x-sim-error-after): `errorReply` when nothing was sent yet.
   */
  fault: 'close' | 'error';
  errorReply: ErrorReply | undefined;
  /** False when the client asked the simulator to ignore `stop` (x-sim-ignore-stop). */
  honourStop: boolean;
  /** Keep the stop sequence at the end of the text (TGI). */
  keepStop: boolean;
  seed: number;
}

/** Catch-up work done in one wake before yielding to other connections. */
const MAX_STEPS_PER_TICK = 64;
const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' });

/** One choice of a generation; the encoder reads it as a ChoiceResult when the choice ends. */
interface Choice extends ChoiceResult {
  readonly generator: CodeGenerator;
  readonly stop: StopMatcher | undefined;
  text: string;
  tokens: number;
  done: boolean;
  finishReason: FinishReason;
  stopWord: string;
}

/**
 * Runs one generation on a held slot as a member of the decode batch: `ttftMs` after start the
 * first step, then one step every `tokenMs`; each step yields one token per unfinished choice. Token
 * times are fixed from the start (step k is due at start + ttft + k·tokenMs), so late timers or a
 * slow reader do not slow the simulated GPU: overdue steps are caught up at once. Whatever the
 * outcome, the generation has left the batch, its listeners are gone and the slot is released
 * before the promise resolves.
 */
export function runGeneration(
  ex: Exchange,
  lease: SlotLease,
  plan: GenerationPlan,
  counters: SimulatorCounters,
  batch: DecodeBatch,
): Promise<GenerationOutcome> {
  return new Promise((resolve) => {
    new Generation(ex, lease, plan, counters, batch, resolve).start();
  });
}

class Generation implements BatchMember {
  dueAt = Infinity;
  readonly #ex: Exchange;
  readonly #lease: SlotLease;
  readonly #plan: GenerationPlan;
  readonly #counters: SimulatorCounters;
  readonly #batch: DecodeBatch;
  readonly #resolve: (outcome: GenerationOutcome) => void;
  readonly #started = performance.now();
  readonly #choices: Choice[];
  #unfinished: number;
  #step = 0;
  #delivered = 0;
  #settled = false;
  #stopWatchingClient: (() => void) | undefined;
  #stopWaitingForDrain: (() => void) | undefined;
  #abortTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    ex: Exchange,
    lease: SlotLease,
    plan: GenerationPlan,
    counters: SimulatorCounters,
    batch: DecodeBatch,
    resolve: (outcome: GenerationOutcome) => void,
  ) {
    this.#ex = ex;
    this.#lease = lease;
    this.#plan = plan;
    this.#counters = counters;
    this.#batch = batch;
    this.#resolve = resolve;
    const { request, context } = plan;
    const stops = plan.honourStop && request.stop.length > 0 ? request.stop : undefined;
    this.#choices = Array.from({ length: request.n }, (_, index) => ({
      index,
      generator: new CodeGenerator({
        context,
        seed: plan.seed,
        choiceIndex: index,
        temperature: request.temperature,
      }),
      stop: stops === undefined ? undefined : new StopMatcher(stops, plan.keepStop),
      text: '',
      tokens: 0,
      done: false,
      finishReason: 'length',
      stopWord: '',
    }));
    this.#unfinished = request.n;
  }

  start(): void {
    const ex = this.#ex;
    if (ex.isClosed()) {
      this.#settle('cancelled');
      return;
    }
    this.#stopWatchingClient = ex.onGone(() => this.#settle('cancelled'));
    if (this.#plan.request.stream) ex.startStream(200, this.#plan.encoder.streamHeaders);
    this.dueAt = this.#dueAt(0);
    this.#batch.add(this);
  }

  /** Called by the batch when the next step is due, and on drain. */
  advance(): void {
    const { faultAfterTokens } = this.#plan;
    // Steps caught up in one go leave in one write: the same bytes, one write request and one DATA
    // frame instead of one per step (a late wake is common on a busy machine).
    let events = '';
    for (let budget = MAX_STEPS_PER_TICK; budget > 0; budget--) {
      if (faultAfterTokens !== undefined && this.#delivered >= faultAfterTokens) {
        this.#injectFault(events);
        return;
      }
      events += this.#decode();
      if (this.#settled) return;
      if (this.#unfinished === 0) {
        this.#finish(events);
        return;
      }
      this.dueAt = this.#dueAt(this.#step);
      if (this.dueAt > performance.now()) break;
    }
    // Out of catch-up budget, dueAt is still in the past: the batch comes back on its next wake.
    if (events.length > 0 && !this.#ex.write(events)) this.#waitForDrain();
  }

  #dueAt(step: number): number {
    return this.#started + this.#plan.ttftMs + step * this.#plan.tokenMs;
  }

  /**
   * One decode step: a token for every unfinished choice. Returns the events it produced, all
   * choices in one string, so a step costs one write however many choices there are.
   */
  #decode(): string {
    const { request, encoder } = this.#plan;
    const counters = this.#counters;
    let events = '';
    for (const c of this.#choices) {
      if (c.done) continue;
      let text = '';
      let finish: FinishReason | undefined;
      if (c.tokens < request.maxTokens) {
        const token = c.generator.next();
        counters.tokens_generated++;
        c.tokens++;
        if (this.#ex.isClosed()) {
          // The GPU already spent this token; nobody will read it.
          counters.tokens_after_cancel++;
          this.#settle('cancelled');
          return '';
        }
        this.#delivered++;
        if (c.stop === undefined) {
          text = token;
        } else {
          const out = c.stop.push(token);
          text = out.text;
          if (out.stopped) {
            finish = 'stop';
            c.stopWord = c.stop.matched;
          }
        }
      }
      if (finish === undefined && c.tokens >= request.maxTokens) {
        finish = 'length';
        text += c.stop?.flush() ?? '';
      }
      if (finish !== undefined) {
        c.done = true;
        c.finishReason = finish;
        this.#unfinished--;
      }
      if (!request.stream) {
        c.text += text;
        continue;
      }
      if (finish !== undefined) events += encoder.finish(c, text);
      else if (text.length > 0) events += encoder.chunk(c.index, text);
    }
    this.#step++;
    return events;
  }

  /** Every choice finished: the last step's events and the end of stream go out with the end of the response. */
  #finish(events: string): void {
    const ex = this.#ex;
    if (ex.isClosed()) {
      this.#settle('cancelled');
      return;
    }
    const { request, encoder } = this.#plan;
    if (request.stream) {
      ex.end(events + encoder.end());
    } else {
      let completionTokens = 0;
      for (const c of this.#choices) completionTokens += c.tokens;
      ex.respond(
        200,
        JSON_HEADERS,
        encoder.body(this.#choices, estimateTokens(request.prompt), completionTokens),
      );
    }
    this.#settle('completed');
  }

  /** The reader is behind: sit out of the batch until the transport drains, others keep going. */
  #waitForDrain(): void {
    const due = this.dueAt;
    this.dueAt = Infinity;
    this.#stopWaitingForDrain = this.#ex.onDrain(() => {
      this.#stopWaitingForDrain = undefined;
      if (this.#settled) return;
      this.dueAt = due;
      this.advance(); // catch up on the steps that fell due meanwhile
      this.#batch.wakeBy(this.dueAt);
    });
  }

  /** x-sim-close-after / x-sim-error-after: the promised tokens are out (or pending in `events`). */
  #injectFault(events: string): void {
    const ex = this.#ex;
    if (this.#plan.fault === 'close') {
      if (events.length > 0) ex.write(events);
      this.#injectAbort();
      return;
    }
    const { request, encoder, errorReply, faultAfterTokens } = this.#plan;
    const message = `Simulated generation failure after ${faultAfterTokens} tokens (x-sim-error-after).`;
    if (ex.isClosed()) this.#settle('cancelled');
    else if (request.stream) {
      ex.end(events + encoder.streamError(message));
      this.#settle('faulted');
    } else {
      const reply = errorReply ?? { status: 500, body: '' };
      ex.respond(reply.status, reply.body === '' ? {} : JSON_HEADERS, reply.body);
      this.#settle('faulted');
    }
  }

  /** x-sim-close-after: break the response once the promised tokens are out. */
  #injectAbort(): void {
    this.dueAt = Infinity;
    this.#batch.delete(this);
    // On a later macrotask: aborting now would drop tokens written in this step that the transport
    // has not flushed yet (h1 uncorks on nextTick, nghttp2 sends on setImmediate), and the client
    // must see exactly the promised N tokens first.
    this.#abortTimer = setTimeout(() => {
      this.#abortTimer = undefined;
      this.#ex.abort();
      this.#settle('faulted');
    }, 0);
  }

  #settle(outcome: GenerationOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    this.dueAt = Infinity;
    this.#batch.delete(this);
    if (this.#abortTimer !== undefined) clearTimeout(this.#abortTimer);
    this.#abortTimer = undefined;
    this.#stopWaitingForDrain?.();
    this.#stopWaitingForDrain = undefined;
    this.#stopWatchingClient?.();
    this.#stopWatchingClient = undefined;
    this.#lease.release();
    this.#resolve(outcome);
  }
}
