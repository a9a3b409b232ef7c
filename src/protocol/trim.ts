/**
 * Copilot's `extra.trim_by_indentation` for one choice: a multi-line completion of a block ends
 * where the block does, i.e. before the first later line that is indented less than the block.
 * The block's indentation is `extra.next_indent` when the client sends it (the indentation the
 * editor expects for the next line), otherwise that of the completion's first full line. The
 * first line (the rest of the line being typed) is never cut; blank lines never end a block.
 */
export class IndentTrimmer {
  #indent: number | undefined;
  /** 'first': the rest of the current line; 'lead': a new line's newline and blanks; 'content'. */
  #state: 'first' | 'lead' | 'content' = 'first';
  /** The held newline(s) and leading blanks of the line whose indentation is not known yet. */
  #pending = '';
  /** Blanks since the last newline in #pending. */
  #lead = 0;
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
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.#state !== 'lead') {
        if (c === 10 /* \n */) {
          out += text.slice(from, i);
          this.#state = 'lead';
          this.#pending = '\n';
          this.#lead = 0;
          from = i + 1;
        }
        continue;
      }
      // Held: a newline, blank lines and leading blanks, until the line's first character.
      if (c === 10) {
        this.#pending += '\n';
        this.#lead = 0;
      } else if (c === 32 || c === 9 || c === 13) {
        this.#pending += text[i];
        if (c !== 13) this.#lead += c === 9 ? 4 : 1;
      } else {
        if (this.#indent === undefined) this.#indent = this.#lead;
        else if (this.#lead < this.#indent) {
          this.#stopped = true;
          this.#pending = '';
          return out;
        }
        out += this.#pending;
        this.#pending = '';
        this.#state = 'content';
        from = i;
      }
      if (this.#state === 'lead') from = i + 1;
    }
    if (this.#state !== 'lead') out += text.slice(from);
    return out;
  }

  /** The choice ended upstream: held trailing whitespace is part of it after all. */
  flush(): string {
    const held = this.#pending;
    this.#pending = '';
    return this.#stopped ? '' : held;
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
    // Index in `text` of the first newline of the held run (newlines, blank lines, leading
    // blanks) before the current line; -1 when the run began in an earlier piece.
    let runStart = -1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 /* \n */) {
        if (this.#lead === -1 || !this.#pastFirstLine) runStart = i;
        this.#pastFirstLine = true;
        this.#lead = 0;
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
        else if (indent < this.#indent) return Math.max(0, runStart);
        runStart = -1;
      }
    }
    return -1;
  }
}
