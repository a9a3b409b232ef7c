import type { EventSink } from './model.js';
import type { StreamDecoder } from './upstream/adapter.js';
import { StringDecoder } from 'node:string_decoder';

/**
 * Incremental Server-Sent Events reader (the WHATWG framing): bytes in any pieces, one callback
 * per event with its `data` lines joined by `\n`. Handles `\n`, `\r\n` and `\r` line ends, a
 * multi-byte character split between chunks, `data:` with or without its one optional space,
 * comments and fields other than `data` (ignored: completion servers send none that matter).
 * Bounded: an event larger than `maxEventBytes` is an error, not unbounded buffering.
 */
export class SseReader {
  readonly #decoder = new StringDecoder('utf8');
  #buffer = '';
  #data: string[] = [];
  #sawCr = false;

  constructor(private readonly maxEventBytes = 1024 * 1024) {}

  /** Feeds bytes; calls `onData` for every event completed by them. Throws past the size bound. */
  push(chunk: Buffer, onData: (data: string) => void): void {
    this.#feed(this.#decoder.write(chunk), onData);
  }

  /** The end of the stream: a last event without its blank line still counts (servers cut short). */
  end(onData: (data: string) => void): void {
    this.#feed(this.#decoder.end(), onData);
    if (this.#buffer.length > 0) this.#line(this.#buffer, onData);
    this.#buffer = '';
    this.#dispatch(onData);
  }

  #feed(text: string, onData: (data: string) => void): void {
    if (text.length === 0) return;
    let s = this.#buffer.length === 0 ? text : this.#buffer + text;
    // A \r\n split between two chunks: the \n here ends nothing new.
    if (this.#sawCr && s.charCodeAt(0) === 10) s = s.slice(1);
    this.#sawCr = false;
    let start = 0;
    for (;;) {
      const nl = s.indexOf('\n', start);
      const cr = s.indexOf('\r', start);
      const end = nl === -1 ? cr : cr === -1 ? nl : Math.min(nl, cr);
      if (end === -1) break;
      this.#line(s.slice(start, end), onData);
      if (s.charCodeAt(end) === 13) {
        if (end + 1 === s.length) {
          this.#sawCr = true;
          start = end + 1;
          break;
        }
        start = s.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      } else start = end + 1;
    }
    this.#buffer = start === 0 ? s : s.slice(start);
    if (this.#buffer.length > this.maxEventBytes || this.#pending() > this.maxEventBytes)
      throw new Error(`an SSE event exceeds ${this.maxEventBytes} bytes`);
  }

  #pending(): number {
    let n = 0;
    for (const d of this.#data) n += d.length;
    return n;
  }

  #line(line: string, onData: (data: string) => void): void {
    if (line.length === 0) return this.#dispatch(onData);
    if (line.charCodeAt(0) === 58 /* : */) return; // a comment (keep-alive)
    if (line.startsWith('data:')) {
      this.#data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
    } else if (line === 'data') this.#data.push('');
    // event:, id:, retry: and unknown fields carry nothing a completion needs.
  }

  #dispatch(onData: (data: string) => void): void {
    if (this.#data.length === 0) return;
    const data = this.#data.length === 1 ? (this.#data[0] as string) : this.#data.join('\n');
    this.#data = [];
    onData(data);
  }
}

/**
 * Incremental newline-delimited JSON reader (Ollama): one callback per non-empty line. Bounded
 * like SseReader.
 */
export class NdjsonReader {
  readonly #decoder = new StringDecoder('utf8');
  #buffer = '';

  constructor(private readonly maxLineBytes = 1024 * 1024) {}

  push(chunk: Buffer, onLine: (line: string) => void): void {
    let s = this.#buffer + this.#decoder.write(chunk);
    let nl = s.indexOf('\n');
    while (nl !== -1) {
      const line = s.slice(0, nl).trim();
      if (line.length > 0) onLine(line);
      s = s.slice(nl + 1);
      nl = s.indexOf('\n');
    }
    if (s.length > this.maxLineBytes) throw new Error(`an NDJSON line exceeds ${this.maxLineBytes} bytes`);
    this.#buffer = s;
  }

  end(onLine: (line: string) => void): void {
    const line = (this.#buffer + this.#decoder.end()).trim();
    this.#buffer = '';
    if (line.length > 0) onLine(line);
  }
}

/** Reads one payload (an SSE event's data, an NDJSON line) into events; throws on an in-band error. */
export type PayloadReader = (payload: string, emit: EventSink) => void;

/** A StreamDecoder for SSE formats: the framing here, the payload's meaning in `read`. */
export class SseDecoder implements StreamDecoder {
  readonly #sse = new SseReader();
  #emit: EventSink = () => {};
  readonly #onData = (data: string): void => this.read(data, this.#emit);

  constructor(private readonly read: PayloadReader) {}

  push(chunk: Buffer, emit: EventSink): void {
    this.#emit = emit;
    this.#sse.push(chunk, this.#onData);
  }

  end(emit: EventSink): void {
    this.#emit = emit;
    this.#sse.end(this.#onData);
  }
}

/** A StreamDecoder for newline-delimited JSON formats (Ollama). */
export class NdjsonDecoder implements StreamDecoder {
  readonly #ndjson = new NdjsonReader();
  #emit: EventSink = () => {};
  readonly #onLine = (line: string): void => this.read(line, this.#emit);

  constructor(private readonly read: PayloadReader) {}

  push(chunk: Buffer, emit: EventSink): void {
    this.#emit = emit;
    this.#ndjson.push(chunk, this.#onLine);
  }

  end(emit: EventSink): void {
    this.#emit = emit;
    this.#ndjson.end(this.#onLine);
  }
}
