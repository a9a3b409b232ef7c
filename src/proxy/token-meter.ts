/**
 * Counts the completion tokens one request generated, for tokens-per-minute quotas
 * (policy/limits). Present on a request's context only when such a quota applies to it, so
 * nobody else pays for counting.
 *
 * The count is the model server's own when it reports one (a `usage` with completion tokens:
 * llama.cpp, Ollama, Codestral, OpenAI-style JSON answers). Otherwise every streamed event that
 * carries text counts as one token: the gateway always asks for a stream, and vLLM, llama.cpp,
 * TGI and Ollama send one token per event. A server that batches tokens into one event is
 * undercounted by that factor. Bytes passed through untouched are not decoded; there each SSE
 * event but `[DONE]` counts, so an event that only ends a choice adds one per choice.
 */
export class TokenMeter {
  #events = 0;
  #reported: number | undefined;
  /** The last three bytes passed through (-1: none), where a blank line may begin. */
  readonly #tail = [-1, -1, -1];
  /** The last byte of the passed-through bytes that was not a line break. */
  #lastByte = 0;

  /** The tokens generated so far: the reported count if any, else the events counted. */
  get tokens(): number {
    return this.#reported ?? this.#events;
  }

  /** A decoded event carrying text. */
  text(): void {
    this.#events++;
  }

  /** The model server's own count (it covers the whole answer, so it replaces, never adds). */
  usage(completionTokens: number): void {
    if (completionTokens >= 0) this.#reported = completionTokens;
  }

  /**
   * SSE bytes that pass through undecoded: counts the blank lines that end events (LF LF or
   * CRLF CRLF, also across chunks) except after `[DONE]` (the one event that ends with `]`; JSON
   * events end with `}`), and reads `"completion_tokens":N` when a usage goes by. A few native
   * byte searches per chunk.
   */
  sse(chunk: Buffer): void {
    let events = 0;
    if (this.#straddles(chunk) && this.#lastByte !== CLOSE) events++;
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
      const next = chunk[i + 1];
      if (next !== LF && !(next === CR && chunk[i + 2] === LF)) continue;
      let j = i - 1;
      if (chunk[j] === CR) j--;
      if ((j >= 0 ? chunk[j] : this.#lastByte) !== CLOSE) events++;
    }
    const end = chunk.length - 1;
    const t = this.#tail;
    t[0] = chunk[end - 2] ?? -1;
    t[1] = chunk[end - 1] ?? -1;
    t[2] = chunk[end] ?? -1;
    for (let k = end; k >= 0 && k > end - 4; k--) {
      const c = chunk[k] as number;
      if (c !== LF && c !== CR) {
        this.#lastByte = c;
        break;
      }
    }
    if (events === 0) return;
    this.#events += events;
    const at = chunk.indexOf(USAGE_KEY);
    if (at !== -1) {
      const n = leadingInt(chunk, at + USAGE_KEY.length);
      if (n !== undefined) this.#reported = n;
    }
  }

  /** A blank line begins in the last bytes of the previous chunk and ends in this one's first. */
  #straddles(chunk: Buffer): boolean {
    const t = this.#tail;
    for (let a = 0; a < 3; a++) {
      if (t[a] !== LF) continue;
      // The bytes after this line feed: the rest of the tail, then the chunk's first bytes.
      const b1 = a + 1 < 3 ? t[a + 1] : chunk[a - 2];
      const b2 = a + 2 < 3 ? t[a + 2] : chunk[a - 1];
      if (b1 === LF && a + 1 >= 3) return true;
      if (b1 === CR && b2 === LF && a + 2 >= 3) return true;
    }
    return false;
  }
}

const LF = 10;
const CR = 13;
/** `]`: the last byte of `data: [DONE]`, the only event that is not a JSON object. */
const CLOSE = 93;
const USAGE_KEY = Buffer.from('"completion_tokens":');

/** The unsigned integer at `from` (spaces allowed before it), or undefined. */
function leadingInt(buf: Buffer, from: number): number | undefined {
  let i = from;
  while (buf[i] === 32) i++;
  let n = 0;
  const start = i;
  for (let c = buf[i]; c !== undefined && c >= 48 && c <= 57 && i - start < 12; c = buf[++i])
    n = n * 10 + c - 48;
  return i === start ? undefined : n;
}
