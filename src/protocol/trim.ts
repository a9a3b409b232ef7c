/**
 * Copilot's `extra.trim_by_indentation` for one choice: a multi-line completion of a block ends
 * where the block does, i.e. before the first later line that is indented less than the block.
 * The block's indentation is `extra.next_indent` when the client sends it (the indentation the
 * editor expects for the next line), otherwise that of the completion's first full line. The
 * first line (the rest of the line being typed) is never cut; blank lines never end a block.
 */
export class IndentTrimmer {
  #indent: number | undefined;
  /** Text of the line being received, not yet known to be kept. */
  #line = '';
  /** False until the first newline: the rest of the current line is always kept. */
  #pastFirstLine = false;
  #stopped = false;

  constructor(nextIndent: number | undefined) {
    this.#indent = nextIndent;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Takes the next piece of text; returns what may be sent now. */
  push(text: string): string {
    if (this.#stopped) return '';
    let out = '';
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      const piece = nl === -1 ? text.slice(start) : text.slice(start, nl + 1);
      if (!this.#pastFirstLine) {
        out += piece;
        if (nl !== -1) this.#pastFirstLine = true;
      } else {
        this.#line += piece;
        const decided = this.#decide(nl !== -1);
        if (decided === 'cut') {
          this.#stopped = true;
          this.#line = '';
          return out;
        }
        if (decided === 'keep') {
          out += this.#line;
          this.#line = '';
        }
      }
      if (nl === -1) return out;
      start = nl + 1;
      if (start >= text.length) return out;
    }
  }

  /** The choice ended upstream: a pending partial line is kept. */
  flush(): string {
    const line = this.#line;
    this.#line = '';
    return this.#stopped ? '' : line;
  }

  /** Whether the line being received is kept, cut (the block ended), or not known yet. */
  #decide(complete: boolean): 'keep' | 'cut' | 'wait' {
    const line = this.#line;
    let i = 0;
    while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
    const blank = i === line.length || line[i] === '\n' || line[i] === '\r';
    // Until a non-blank character arrives, the indentation is not known.
    if (blank) return complete ? 'keep' : 'wait';
    const indent = line.slice(0, i).replace(/\t/g, '    ').length;
    if (this.#indent === undefined) {
      this.#indent = indent;
      return 'keep';
    }
    return indent < this.#indent ? 'cut' : 'keep';
  }
}

/** The trimmer's setting from a Copilot request's `extra`, or undefined when trimming is off. */
export function indentTrimOf(
  extra: Readonly<Record<string, unknown>> | undefined,
): { nextIndent: number | undefined } | undefined {
  if (extra?.trim_by_indentation !== true) return undefined;
  const next = extra.next_indent;
  return { nextIndent: typeof next === 'number' && Number.isInteger(next) && next >= 0 ? next : undefined };
}

/**
 * trim_by_indentation without holding anything back, for answers that pass through untouched:
 * `scan` returns where in this piece the text must be cut (-1: nowhere), which is before the
 * newline that starts the first line indented less than the block. When that newline came in an
 * earlier piece, it and the line's leading blanks were already sent: the cut is then at the
 * start of this piece (the client sees trailing whitespace, which editors drop).
 */
export class IndentScanner {
  #indent: number | undefined;
  #pastFirstLine = false;
  /** Leading blanks counted so far on the current line; -1 once it has content. */
  #lead = -1;

  constructor(nextIndent: number | undefined) {
    this.#indent = nextIndent;
  }

  scan(text: string): number {
    let lineStart = -1; // index in `text` of the current line's newline, -1 if in an earlier piece
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 /* \n */) {
        this.#pastFirstLine = true;
        this.#lead = 0;
        lineStart = i;
        continue;
      }
      if (!this.#pastFirstLine || this.#lead === -1) continue;
      if (c === 32) this.#lead++;
      else if (c === 9) this.#lead += 4;
      else if (c === 13) continue;
      else {
        const indent = this.#lead;
        this.#lead = -1;
        if (this.#indent === undefined) this.#indent = indent;
        else if (indent < this.#indent) return Math.max(0, lineStart);
      }
    }
    return -1;
  }
}
