import { randomUUID } from 'node:crypto';
import { Call } from './call.js';
import type { Connection } from './connection.js';
import { commentPrefix, type Corpus, type CorpusFile } from './corpus.js';
import type { LoadgenOptions } from './options.js';
import type { Recorder } from './recorder.js';
import { Random, Typist } from './typing.js';

/** What a developer shares with the others: the run's options, corpus, counters and its gate. */
export interface Workplace {
  readonly opts: LoadgenOptions;
  readonly corpus: Corpus;
  readonly recorder: Recorder;
  /** `Authorization` header value, or undefined (a target with auth off). */
  authorization(): string | undefined;
  /** False once the run stops sending (duration reached, --requests reached). */
  mayFire(): boolean;
  /** Called for every request sent (the run counts towards --requests). */
  fired(call: Call): void;
}

/** Editor headers a Copilot client sends (docs/protocols.md); values of a recent VS Code. */
const EDITOR_HEADERS = Object.freeze({
  'content-type': 'application/json',
  'openai-organization': 'github-copilot',
  'openai-intent': 'copilot-ghost',
  'editor-version': 'vscode/1.95.0',
  'editor-plugin-version': 'copilot/1.250.0',
  'x-copilot-speculative': 'false',
});

/**
 * One simulated developer: types through a file one key at a time, fires a completion when no key
 * has come for the debounce (developers mode) or when the run's rate schedule says so (rate mode),
 * and on the next key gives up on whatever is still in flight — reset, close or, for a bad client,
 * never. A completion that finished before the next key was shown; the developer may accept it
 * (Tab), which moves the cursor past the accepted text.
 */
export class Developer {
  readonly index: number;
  readonly #place: Random;
  readonly #accept: Random;
  readonly #typist: Typist;
  readonly #w: Workplace;
  readonly #conn: Connection;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #path: string;
  readonly #inflight = new Set<Call>();
  #file: CorpusFile;
  #cursor = 0;
  #lastKeyAt: number | undefined;
  /** The newest completion that finished since the last key: what the editor shows as ghost text. */
  #shown: Call | undefined;
  #keyTimer: NodeJS.Timeout | undefined;
  #debounceTimer: NodeJS.Timeout | undefined;
  #typing = false;

  constructor(index: number, w: Workplace, conn: Connection) {
    this.index = index;
    this.#w = w;
    this.#conn = conn;
    // Three independent streams per developer: where they type, how fast, and what they accept.
    // Typing is then reproducible with --seed whatever the server answers; accepting moves the
    // cursor, so what is typed after an accept depends on the completion's length.
    const base = (w.opts.seed * 0x9e3779b1 + index * 0x85ebca6b) >>> 0;
    this.#place = new Random(base ^ 0x1);
    this.#typist = new Typist(w.opts.typing, new Random(base ^ 0x2));
    this.#accept = new Random(base ^ 0x3);
    // VS Code's session id: a UUID and the session's start time in ms.
    const sessionId = `${this.#place.uuid()}${Date.now()}`;
    this.#headers = {
      ...EDITOR_HEADERS,
      'vscode-sessionid': sessionId,
      'vscode-machineid': this.#place.uuid().replace(/-/g, '') + this.#place.uuid().replace(/-/g, ''),
    };
    this.#path = `/v1/engines/${encodeURIComponent(w.opts.engine)}/completions`;
    this.#file = this.#jump();
  }

  /** Requests of this developer still running. */
  get inflight(): ReadonlySet<Call> {
    return this.#inflight;
  }

  /** Starts typing after `delayMs` (developers start spread out, not all on the same tick). */
  start(delayMs: number): void {
    this.#typing = true;
    this.#keyTimer = setTimeout(() => this.#key(), delayMs);
  }

  /** Stops typing: no more keys, no more requests; requests in flight are left to finish. */
  stopTyping(): void {
    this.#typing = false;
    clearTimeout(this.#keyTimer);
    clearTimeout(this.#debounceTimer);
    this.#keyTimer = undefined;
    this.#debounceTimer = undefined;
  }

  /** Sends a completion for the cursor's position now. */
  fire(): void {
    this.#debounceTimer = undefined;
    const w = this.#w;
    if (!w.mayFire()) return;
    const id = randomUUID();
    const call = new Call(id, this.index, w.opts.mode === 'developers' ? this.#lastKeyAt : undefined, (c) =>
      this.#settled(c),
    );
    this.#inflight.add(call);
    w.fired(call);
    const auth = w.authorization();
    const headers = {
      ...this.#headers,
      'x-request-id': id,
      ...(auth === undefined ? {} : { authorization: auth }),
    };
    call.pending = this.#conn.send(this.#path, headers, this.#body(), call);
  }

  #key(): void {
    this.#keyTimer = undefined;
    if (!this.#typing) return;
    const w = this.#w;
    const now = performance.now();
    clearTimeout(this.#debounceTimer);
    this.#debounceTimer = undefined;
    w.recorder.keys++;
    // Whatever is in flight is stale now.
    if (this.#inflight.size > 0) {
      for (const call of [...this.#inflight]) {
        if (w.opts.cancel === 'never') call.stale = true;
        else call.cancel(w.opts.cancel);
      }
    }
    const shown = this.#shown;
    this.#shown = undefined;
    let typed: string;
    if (shown !== undefined && shown.textChars > 0 && this.#accept.float() < w.opts.acceptRate) {
      w.recorder.accepted++;
      this.#cursor += shown.textChars; // Tab: the accepted text is in the file now
      typed = '\t';
    } else {
      typed = this.#file.text[this.#cursor] ?? '\n';
      this.#cursor++;
    }
    if (this.#cursor >= this.#file.text.length) this.#file = this.#jump();
    this.#lastKeyAt = now;
    const delay = this.#typist.nextDelayMs(typed);
    if (w.opts.mode === 'developers' && delay > w.opts.debounceMs) {
      this.#debounceTimer = setTimeout(() => this.fire(), w.opts.debounceMs);
    }
    this.#keyTimer = setTimeout(() => this.#key(), delay);
  }

  #settled(call: Call): void {
    this.#inflight.delete(call);
    this.#w.recorder.settled(call);
    // Shown as ghost text if it finished while the developer was still pausing after its key.
    if (call.outcome === 'completed' && !call.stale && this.#typing) {
      this.#shown = call;
      this.#w.recorder.shown++;
    }
  }

  /** A new place to type: a random file, a random non-blank line start. */
  #jump(): CorpusFile {
    const files = this.#w.corpus.files;
    const file = files[this.#place.int(files.length)] as CorpusFile;
    this.#cursor = file.lineStarts[this.#place.int(file.lineStarts.length)] ?? 0;
    return file;
  }

  /** The Copilot request body for the cursor's position: the text before it and after it, bounded. */
  #body(): string {
    const o = this.#w.opts;
    const file = this.#file;
    const text = file.text;
    const cursor = Math.min(this.#cursor, text.length);
    const prefix = text.slice(Math.max(0, cursor - o.prefixChars), cursor);
    // The developer is writing this line: what follows the cursor on it does not exist yet. The
    // suffix is the code after the line, as when writing new code above existing code.
    const lineEnd = text.indexOf('\n', cursor);
    const after = lineEnd === -1 ? text.length : lineEnd;
    const suffix = text.slice(after, after + o.suffixChars);
    const prompt = `${commentPrefix(file.language)} Path: ${file.path}\n${prefix}`;
    const lineStart = text.lastIndexOf('\n', cursor - 1) + 1;
    const indent = /^[ \t]*/.exec(text.slice(lineStart, cursor))?.[0].length ?? 0;
    return JSON.stringify({
      prompt,
      suffix,
      max_tokens: o.maxTokens,
      temperature: 0,
      top_p: 1,
      n: 1,
      stop: ['\n\n\n'],
      stream: true,
      extra: {
        language: file.language,
        next_indent: indent,
        // Left off: the gateway would then cut completions at the block's end and reset the
        // upstream itself, and those resets would blur the count of cancels by developers.
        trim_by_indentation: false,
        prompt_tokens: Math.ceil(prompt.length / 4),
        suffix_tokens: Math.ceil(suffix.length / 4),
      },
    });
  }
}
