import { findEcho } from './echo.js';
import { CONTEXT_WINDOW_CHARS } from './prompt.js';
import { fnv1a32, mulberry32 } from './rng.js';

/** Earlier occurrences of the matched tail that a sampling (temperature > 0) choice picks among. */
const SAMPLE_CANDIDATES = 4;

export interface GeneratorInput {
  /** The code to continue (see codeContext); at most CONTEXT_WINDOW_CHARS are looked at. */
  context: string;
  seed: number;
  /** Choices of one request differ only when sampling. */
  choiceIndex: number;
  /** 0 picks the most recent match every time (greedy); above 0 samples among matches. */
  temperature: number;
}

type Language = 'typescript' | 'python' | 'go' | 'rust';

/** Plausible lines for when the prompt has no pattern to continue. Statements only, so any order reads. */
const FALLBACK_LINES: Record<Language, readonly string[]> = {
  typescript: [
    'const response = await fetch(url, { signal });',
    'if (!response.ok) throw new Error(`HTTP ${response.status}`);',
    'for (const item of items) total += item.price;',
    'return items.filter((item) => item.enabled).map((item) => item.id);',
    'const config = { timeoutMs: 5000, retries: 3 };',
    "logger.debug('request finished', { id, durationMs });",
    'let count = 0;',
    'export const isEmpty = (value: string): boolean => value.trim().length === 0;',
  ],
  python: [
    'result = [item for item in items if item.enabled]',
    'raise ValueError(f"unexpected status: {status}")',
    'total = sum(price for price in prices)',
    'logger.debug("request finished in %.2f ms", elapsed_ms)',
    'return {"id": self.id, "name": self.name}',
    'timeout = config.get("timeout", 30)',
    'self.items.append(item)',
  ],
  go: [
    'if err != nil { return nil, fmt.Errorf("read config: %w", err) }',
    'ctx, cancel := context.WithTimeout(ctx, 5*time.Second)',
    'defer cancel()',
    'for i, item := range items { total += item.Price * float64(i+1) }',
    'log.Printf("request finished in %v", time.Since(start))',
    'return &Server{addr: addr, handler: h}, nil',
  ],
  rust: [
    'let mut total = 0u64;',
    'for item in items.iter().filter(|i| i.enabled) { total += item.price; }',
    'let body = response.text().await?;',
    'return Err(anyhow::anyhow!("unexpected status: {}", status));',
    'println!("finished in {:?}", start.elapsed());',
    'let config = Config { timeout_ms: 5_000, retries: 3 };',
  ],
};
/** What ends a half-written line before falling back to whole lines. */
const LINE_ENDERS: Record<Language, string> = { typescript: ';', python: '', go: '', rust: ';' };
const INDENT_UNIT: Record<Language, string> = { typescript: '  ', python: '    ', go: '\t', rust: '    ' };

const enum CharClass {
  Word,
  Space,
  Newline,
  Punct,
}
/** Longest token per class: tokens stay small like a BPE vocabulary's (identifiers, indents, "();"). */
const TOKEN_CAP: Record<CharClass, number> = {
  [CharClass.Word]: 6,
  [CharClass.Space]: 6,
  [CharClass.Newline]: 2,
  [CharClass.Punct]: 2,
};

/**
 * Produces code-like tokens that continue the prompt. At each line end it finds the longest recent
 * tail of the text (prompt plus output so far, digits folded to 0) that occurred earlier, and copies
 * the line that followed that occurrence, like an LZ77 back-reference. When that line and the one
 * before it differ only in their numbers, the numbers step on (x1, x2 → x3), so sequences continue
 * instead of repeating. A copy that would just repeat the current line jumps to another prompt line;
 * with no usable pattern it writes plausible lines of the prompt's language.
 * Deterministic for a given context, seed, choice and temperature. Cost: O(1) per character, one
 * O(window) search per generated line; nothing else scans the context unless it is needed (the
 * language and the random seed are only worked out when a fallback line or a sample needs them).
 */
export class CodeGenerator {
  readonly #base: string;
  /** Generated characters, one per entry, for O(1) random access while copying. */
  readonly #out: string[] = [];
  /** The same characters as one string, for searching. */
  #outText = '';
  #emitted = 0;
  /** A decided piece of line (ending in a newline) still to be written. */
  #pending = '';
  #pendingPos = 0;
  /** Position in base+out being copied from when the source line is not complete yet; else -1. */
  #src = -1;
  /**
   * The next line is still to be decided. Deciding waits until its first character is needed, so
   * the lookahead that ends a token at a newline does not pay for a search whose line may never be
   * written; the result is the same, as nothing changes in between.
   */
  #lineUndecided = true;
  readonly #seed: number;
  #random: (() => number) | undefined;
  readonly #greedy: boolean;
  #language: Language | undefined;
  #indent: string | undefined;

  constructor(input: GeneratorInput) {
    this.#base =
      input.context.length > CONTEXT_WINDOW_CHARS
        ? input.context.slice(-CONTEXT_WINDOW_CHARS)
        : input.context;
    const choiceSalt = Math.imul(input.choiceIndex + 1, 0x9e3779b1);
    this.#seed = (input.seed ^ choiceSalt) >>> 0;
    this.#greedy = input.temperature <= 0;
  }

  /** The next token (1 to 6 characters). Never ends: the caller decides when to stop. */
  next(): string {
    const start = this.#emitted;
    const cls = classify(this.#charAt(start));
    let end = start + 1;
    while (end - start < TOKEN_CAP[cls] && cls !== CharClass.Newline) {
      if (classify(this.#charAt(end)) !== cls) break;
      end++;
    }
    if (cls === CharClass.Newline && this.#charAt(end) === '\n') end++;
    // Never split a surrogate pair across two tokens: each token must be valid text on its own.
    if (isHighSurrogate(this.#out[end - 1] ?? '')) {
      this.#charAt(end);
      end++;
    }
    this.#emitted = end;
    let token = '';
    for (let i = start; i < end; i++) token += this.#out[i] ?? '';
    return token;
  }

  /** Output character i, producing characters until it exists. */
  #charAt(i: number): string {
    while (this.#out.length <= i) this.#produce();
    return this.#out[i] ?? '';
  }

  #produce(): void {
    if (this.#lineUndecided) {
      this.#lineUndecided = false;
      this.#research();
    }
    let c: string;
    if (this.#pendingPos < this.#pending.length) {
      c = this.#pending[this.#pendingPos++] ?? '\n';
    } else if (this.#src >= 0) {
      const at = this.#src++;
      // The copy may overlap what is being written (like LZ77), so read from out as well as base.
      c = at < this.#base.length ? (this.#base[at] ?? ' ') : (this.#out[at - this.#base.length] ?? ' ');
    } else {
      this.#setPending(this.#fallbackLine());
      c = this.#pending[this.#pendingPos++] ?? '\n';
    }
    this.#out.push(c);
    this.#outText += c;
    if (c === '\n') this.#lineUndecided = true;
  }

  #setPending(text: string): void {
    this.#pending = text;
    this.#pendingPos = 0;
    this.#src = -1;
  }

  /** Decides what the next line is. */
  #research(): void {
    const total = this.#base.length + this.#out.length;
    const hayStart = Math.max(0, total - CONTEXT_WINDOW_CHARS);
    const hay =
      hayStart < this.#base.length
        ? this.#base.slice(hayStart) + this.#outText
        : this.#outText.slice(hayStart - this.#base.length);
    this.#setPending('');
    const echo = findEcho(hay, SAMPLE_CANDIDATES);
    if (echo === undefined) return; // nothing to continue: fallback lines

    const atLineStart = hay.endsWith('\n');
    const currentLine = atLineStart ? hay.slice(hay.lastIndexOf('\n', hay.length - 2) + 1) : undefined;
    // A continuation that repeats the line just written would loop forever; skip it.
    const fresh = (c: string | number): boolean => currentLine === undefined || c !== currentLine;
    let chosen: string | number | undefined;
    if (this.#greedy) {
      // The newest usable occurrence; older ones are only looked at when it repeats the line.
      for (const at of echo.starts) {
        const c = continuationAt(hay, at + echo.length);
        if (fresh(c)) {
          chosen = c;
          break;
        }
      }
    } else {
      const continuations = echo.starts.map((at) => continuationAt(hay, at + echo.length)).filter(fresh);
      chosen = continuations[Math.floor(this.#rand() * continuations.length)];
    }
    if (chosen === undefined) this.#setPending(this.#promptLine(currentLine));
    else if (typeof chosen === 'string') this.#setPending(chosen);
    else this.#src = hayStart + chosen; // the source line is still being written: copy character by character
  }

  /** Uniform in [0, 1). Seeded from the context on first use: a greedy choice may never need it. */
  #rand(): number {
    this.#random ??= mulberry32(fnv1a32(this.#base, this.#seed));
    return this.#random();
  }

  /** The prompt's language, worked out on first use (only fallback lines need it). */
  #lang(): Language {
    return (this.#language ??= detectLanguage(this.#base));
  }

  /** Another non-blank line of the prompt (from a random place on), to move on when copying would only repeat. */
  #promptLine(avoid: string | undefined): string {
    const base = this.#base;
    let start = base.lastIndexOf('\n', Math.floor(this.#rand() * base.length)) + 1;
    for (let tries = 0; tries < 16; tries++) {
      const end = base.indexOf('\n', start);
      if (end < 0) {
        if (start === 0) break; // a prompt without complete lines
        start = 0;
        continue;
      }
      const line = base.slice(start, end + 1);
      if (line.trim().length > 0 && line !== avoid) return line;
      start = end + 1;
    }
    return this.#fallbackLine();
  }

  #fallbackLine(): string {
    const last = this.#out.length > 0 ? this.#out[this.#out.length - 1] : this.#base[this.#base.length - 1];
    if (last !== undefined && last !== '\n') return `${LINE_ENDERS[this.#lang()]}\n`;
    const lines = FALLBACK_LINES[this.#lang()];
    this.#indent ??= nextLineIndent(this.#base, INDENT_UNIT[this.#lang()]);
    return `${this.#indent}${lines[Math.floor(this.#rand() * lines.length)] ?? ''}\n`;
  }
}

/**
 * What follows position `src` of `hay` up to its line end (numbers stepped, newline included), or
 * `src` itself when that line is not complete yet.
 */
function continuationAt(hay: string, src: number): string | number {
  const lineEnd = hay.indexOf('\n', src);
  if (lineEnd < 0) return src;
  const lineStart = hay.lastIndexOf('\n', src - 1) + 1;
  const previous =
    lineStart > 0 ? hay.slice(hay.lastIndexOf('\n', lineStart - 2) + 1, lineStart - 1) : undefined;
  return `${stepNumbers(hay.slice(lineStart, lineEnd), previous, src - lineStart)}\n`;
}

/**
 * `line` from `offset` on, with its numbers stepped by their difference to `previous` when both
 * lines have the same shape apart from numbers ("x2 = 2" after "x1 = 1" gives "x3 = 3").
 */
function stepNumbers(line: string, previous: string | undefined, offset: number): string {
  const rest = line.slice(offset);
  if (previous === undefined || previous === line || !/[0-9]/.test(rest)) return rest;
  if (line.replace(/[0-9]+/g, '0') !== previous.replace(/[0-9]+/g, '0')) return rest;
  const before = previous.match(/[0-9]+/g) ?? [];
  let out = '';
  let copied = offset;
  let k = 0;
  for (const m of line.matchAll(/[0-9]+/g)) {
    const digits = m[0];
    const at = m.index ?? 0;
    const prev = before[k++];
    if (at < offset) continue; // already written (or straddling the offset): keep as is
    out += line.slice(copied, at);
    const next = prev === undefined || digits.length > 9 ? -1 : 2 * Number(digits) - Number(prev);
    out += next >= 0 ? String(next) : digits;
    copied = at + digits.length;
  }
  return out + line.slice(copied);
}

function classify(c: string): CharClass {
  const code = c.charCodeAt(0);
  if (c === '\n' || c === '\r') return CharClass.Newline;
  if (c === ' ' || c === '\t') return CharClass.Space;
  if (
    (code >= 48 && code <= 57) || // 0-9
    (code >= 65 && code <= 90) || // A-Z
    (code >= 97 && code <= 122) || // a-z
    code === 95 || // _
    code === 36 || // $
    code >= 0x80
  ) {
    return CharClass.Word;
  }
  return CharClass.Punct;
}

function isHighSurrogate(c: string): boolean {
  const code = c.charCodeAt(0);
  return code >= 0xd800 && code <= 0xdbff;
}

function detectLanguage(text: string): Language {
  if (/^\s*(?:pub )?fn \w|\blet mut \w|^\s*use \w+::/m.test(text)) return 'rust';
  if (/^\s*func \w|^package \w+\s*$|\w := /m.test(text)) return 'go';
  if (/^\s*def \w+\(|\bself\.\w|^\s*elif\b/m.test(text)) return 'python';
  return 'typescript';
}

/** Indentation for a line following `text`: that of its last non-blank line, one deeper after an opener. */
function nextLineIndent(text: string, unit: string): string {
  let end = text.length;
  while (end > 0) {
    const start = text.lastIndexOf('\n', end - 1) + 1;
    const line = text.slice(start, end);
    if (line.trim().length > 0) {
      const indent = /^[ \t]*/.exec(line)?.[0] ?? '';
      return /[{:([]\s*$/.test(line) ? indent + unit : indent;
    }
    end = start - 1;
  }
  return '';
}
