import type { CallHandler, Pending } from './connection.js';

/** How a request ended, from the developer's side. */
export type Outcome =
  /** The stream ended with `data: [DONE]`. */
  | 'completed'
  /** The developer typed on and the client gave up on it (reset or close). */
  | 'cancelled'
  /** The gateway ended it because a newer request of the same editor replaced it. */
  | 'superseded'
  /** A status other than 200, an error event, a broken stream. */
  | 'error'
  /** Still running when the run's drain time was up; cut by the load generator, not a developer. */
  | 'unfinished';

/** The gateway's error code for a request a newer one replaced (a planned gateway feature). */
export const SUPERSEDED_CODE = 'GW_SUPERSEDED';
const DONE = '[DONE]';
const MAX_ERROR_BODY = 4096;

/**
 * One completion request's life and timings (performance.now() ms). It settles exactly once: the
 * first of end, error or cancel wins and whatever the transport reports afterwards is ignored.
 */
export class Call implements CallHandler {
  readonly id: string;
  readonly developer: number;
  /** When the request was handed to the transport. */
  readonly sentAt: number;
  /** The developer's last key before the request fired (developers mode), for "at the pause". */
  readonly keyAt: number | undefined;
  status = 0;
  firstTokenAt: number | undefined;
  settledAt: number | undefined;
  outcome: Outcome | undefined;
  cancelKind: 'reset' | 'close' | undefined;
  /** Why it failed: `HTTP_<status>`, a gateway `GW_…` code, `RST_STREAM_…`, a socket error code. */
  code: string | undefined;
  /** Characters of completion text received. */
  textChars = 0;
  /** The developer typed on while it ran and it was not cancelled (--cancel never): nobody will see it. */
  stale = false;
  pending: Pending | undefined;
  #buffer = '';
  #done = false;
  #errorBody = '';
  readonly #onSettled: (call: Call) => void;

  constructor(
    id: string,
    developer: number,
    keyAt: number | undefined,
    onSettled: (call: Call) => void,
    now = performance.now(),
  ) {
    this.id = id;
    this.developer = developer;
    this.keyAt = keyAt;
    this.sentAt = now;
    this.#onSettled = onSettled;
  }

  onResponse(status: number): void {
    this.status = status;
  }

  onData(text: string): void {
    if (this.outcome !== undefined) return;
    if (this.status !== 200) {
      if (this.#errorBody.length < MAX_ERROR_BODY) this.#errorBody += text;
      return;
    }
    this.#buffer += text;
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end === -1) return;
      const event = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      this.#event(event);
      if (this.outcome !== undefined) return;
    }
  }

  onEnd(): void {
    if (this.outcome !== undefined) return;
    if (this.#buffer.length > 0) this.onData('\n\n'); // an event without its blank line at the very end
    if (this.outcome !== undefined) return;
    if (this.status !== 200) {
      const code = errorCode(this.#errorBody);
      if (code === SUPERSEDED_CODE) this.#settle('superseded');
      else this.#settle('error', code ?? `HTTP_${this.status}`);
    } else if (this.#done) this.#settle('completed');
    else this.#settle('error', 'truncated');
  }

  onError(code: string): void {
    if (this.outcome === undefined)
      this.#settle('error', this.status !== 0 && this.status !== 200 ? `HTTP_${this.status}` : code);
  }

  /** The developer typed on: give up on the request the way the client is configured to. */
  cancel(kind: 'reset' | 'close'): void {
    if (this.outcome !== undefined) return;
    this.cancelKind = kind;
    this.#settle('cancelled'); // first: what the transport reports next is then ignored
    if (kind === 'reset') this.pending?.reset();
    else this.pending?.closeConnection();
  }

  /** The run is over and this one did not finish in the drain time. */
  abandon(): void {
    if (this.outcome !== undefined) return;
    this.#settle('unfinished');
    this.pending?.reset();
  }

  #event(event: string): void {
    let data = '';
    for (const line of event.split('\n')) {
      if (line.startsWith('data:')) data += line.slice(line.startsWith('data: ') ? 6 : 5).replace(/\r$/, '');
    }
    if (data === '') return;
    if (data === DONE) {
      this.#done = true;
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      this.#settle('error', 'bad_event');
      return;
    }
    if (!isObject(parsed)) return;
    if (parsed.error !== undefined) {
      const code =
        isObject(parsed.error) && typeof parsed.error.code === 'string' ? parsed.error.code : undefined;
      if (code === SUPERSEDED_CODE) this.#settle('superseded');
      else this.#settle('error', code ?? 'stream_error');
      return;
    }
    const choices = parsed.choices;
    if (!Array.isArray(choices)) return;
    for (const c of choices as unknown[]) {
      if (!isObject(c)) continue;
      if (typeof c.text === 'string' && c.text.length > 0) {
        this.firstTokenAt ??= performance.now();
        this.textChars += c.text.length;
      }
      if (c.finish_reason === 'superseded') {
        this.#settle('superseded');
        return;
      }
    }
  }

  #settle(outcome: Outcome, code?: string): void {
    this.outcome = outcome;
    this.code = code;
    this.settledAt = performance.now();
    this.#buffer = '';
    this.#errorBody = '';
    this.#onSettled(this);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `error.code` of a JSON error body (the gateway's GW_… codes, OpenAI's strings), if any. */
function errorCode(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (
      isObject(parsed) &&
      isObject(parsed.error) &&
      typeof parsed.error.code === 'string' &&
      parsed.error.code !== ''
    )
      return parsed.error.code;
  } catch {
    // not JSON: the status says enough
  }
  return undefined;
}
