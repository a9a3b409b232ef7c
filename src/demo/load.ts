import http2 from 'node:http2';
import {
  clock,
  completionIdIn,
  simulatorIdentity,
  type LoadSettings,
  type RequestRecord,
} from './protocol.js';

/**
 * A region's users: completions at a steady rate to the region's gateway over one h2c session,
 * the way an editor's Copilot client sends them (POST /v1/engines/{engine}/completions, SSE back).
 * Each request is recorded as the user saw it: whether a completion byte arrived before an error,
 * and which simulator served it (read from the completion id the gateway passes through).
 */

/** The protocol edge a user cares about: a prompt per user (affinity keys differ), a short completion. */
function body(user: number, seq: number, maxTokens: number): string {
  const prompt =
    `// file: src/user-${user}/handler.ts\n` +
    `export function handle${seq % 97}(input: string): string {\n` +
    `  const parts = input.split(',');\n  return parts.map((p) => p.trim()).join(`;
  return JSON.stringify({ prompt, max_tokens: maxTokens, stream: true, temperature: 0 });
}

/** Catch-up after a stalled event loop sends at most this many overdue requests at once. */
const MAX_BURST = 10;

export class LoadClient {
  readonly #url: string;
  readonly #region: string;
  readonly #settings: LoadSettings;
  readonly #emit: (record: RequestRecord) => void;
  #session: http2.ClientHttp2Session | undefined;
  #timer: NodeJS.Timeout | undefined;
  #seq = 0;
  #startedAt = 0;
  #sent = 0;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(url: string, region: string, settings: LoadSettings, emit: (record: RequestRecord) => void) {
    this.#url = url;
    this.#region = region;
    this.#settings = settings;
    this.#emit = emit;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Starts sending at the configured rate (no-op when already running). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#startedAt = clock();
    this.#sent = 0;
    const periodMs = 1000 / this.#settings.ratePerS;
    const tick = (): void => {
      // Requests are due at fixed times from the start, so a late timer does not lower the rate.
      const due = Math.floor((clock() - this.#startedAt) / periodMs) + 1;
      let burst = 0;
      while (this.#sent < due && burst < MAX_BURST) {
        this.#sent++;
        burst++;
        this.#send();
      }
      if (this.#sent < due) this.#sent = due; // dropped rather than bunched after a long stall
      this.#timer = setTimeout(tick, Math.max(1, this.#startedAt + this.#sent * periodMs - clock()));
    };
    tick();
  }

  /** Stops sending; resolves when requests in flight have ended (each is bounded by its timeout). */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Ends the session (after stop()). */
  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }

  #connection(): http2.ClientHttp2Session {
    const s = this.#session;
    if (s !== undefined && !s.closed && !s.destroyed) return s;
    const session = http2.connect(this.#url);
    // A failed session fails its streams, which is where it is recorded.
    session.on('error', () => undefined);
    session.on('close', () => {
      if (this.#session === session) this.#session = undefined;
    });
    this.#session = session;
    return session;
  }

  #send(): void {
    const seq = ++this.#seq;
    const user = seq % this.#settings.users;
    const p = this.#request(seq, user).then((record) => this.#emit(record));
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  #request(seq: number, user: number): Promise<RequestRecord> {
    const startAt = clock();
    const record: RequestRecord = {
      region: this.#region,
      seq,
      startAt,
      endAt: 0,
      status: 0,
      outcome: 'failed',
    };
    return new Promise((resolve) => {
      let head = ''; // the first bytes: completion id, or an error body
      let tail = ''; // the last bytes: [DONE] or an error event
      let sawCompletion = false;
      let finished = false;
      const finish = (error?: string): void => {
        if (finished) return;
        finished = true;
        record.endAt = clock();
        const errorEvent = /data: \{"error":\{"code":"([A-Z_]+)"/.exec(tail)?.[1];
        const done = tail.includes('data: [DONE]');
        if (record.status === 200 && sawCompletion && done && errorEvent === undefined && error === undefined)
          record.outcome = 'ok';
        else {
          record.outcome = sawCompletion ? 'cut' : 'failed';
          const code =
            error ?? errorEvent ?? /"code":"([A-Z_]+)"/.exec(head)?.[1] ?? (done ? undefined : 'NO_DONE');
          if (code !== undefined) record.error = code;
        }
        resolve(record);
      };
      let s: http2.ClientHttp2Stream;
      try {
        s = this.#connection().request({
          ':method': 'POST',
          ':path': '/v1/engines/default/completions',
          'content-type': 'application/json',
          'vscode-sessionid': `${this.#region}-user-${user}`,
          'x-request-id': `${this.#region}-${seq}`,
        });
      } catch (err) {
        finish((err as NodeJS.ErrnoException).code ?? 'REQUEST_FAILED');
        return;
      }
      const deadline = setTimeout(() => {
        finish('CLIENT_TIMEOUT');
        s.close(http2.constants.NGHTTP2_CANCEL);
      }, this.#settings.timeoutMs);
      s.on('response', (headers) => {
        record.status = Number(headers[':status']);
        record.headersAt = clock();
      });
      s.setEncoding('utf8');
      s.on('data', (text: string) => {
        if (head.length < 512) head += text;
        tail = (tail + text).slice(-512);
        if (!sawCompletion && record.status === 200 && tail.includes('"choices"')) {
          // The first completion event: the user now has something on screen.
          sawCompletion = true;
          record.firstByteAt = clock();
          const id = completionIdIn(head);
          const served = id === undefined ? undefined : simulatorIdentity(id);
          if (served !== undefined) record.servedBy = served;
        }
      });
      s.on('end', () => finish());
      s.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'STREAM_ERROR'));
      s.on('close', () => {
        clearTimeout(deadline);
        // A reset without an 'error' (e.g. RST_STREAM(CANCEL) from the server).
        if (s.rstCode !== undefined && s.rstCode !== http2.constants.NGHTTP2_NO_ERROR)
          finish(`RST_STREAM_${s.rstCode}`);
        else finish();
      });
      s.end(body(user, seq, this.#settings.maxTokens));
    });
  }
}
