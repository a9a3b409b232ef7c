/**
 * Editing a few top-level fields of a JSON object without re-serializing it. A completion body is
 * kilobytes of prompt and a handful of small fields; when a policy changes `max_tokens` or adds a
 * stop sequence, copying the prompt's bytes as they are costs a fraction of JSON.stringify (which
 * must scan and escape every character again). Strings are skipped with indexOf, so a long
 * prompt is one native search, not a byte loop.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const isSpace = (b: number | undefined): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * One top-level member: the bytes `"name": value` span, and which edit names it (-1: none).
 * Keys are compared as bytes with the edits' names: decoding every key to a string would cost
 * more than the rest of the splice.
 */
interface Member {
  edit: number;
  start: number;
  end: number;
}

/** Index just past the string whose opening quote is at `at`; -1 if it never closes. */
function skipString(raw: Buffer, at: number): number {
  let from = at + 1;
  for (;;) {
    const q = raw.indexOf(QUOTE, from);
    if (q === -1) return -1;
    let slashes = 0;
    for (let i = q - 1; raw[i] === BACKSLASH; i--) slashes++;
    if (slashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** Index just past the value starting at `at` (after any whitespace); -1 if malformed. */
function skipValue(raw: Buffer, at: number): number {
  const first = raw[at];
  if (first === QUOTE) return skipString(raw, at);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let i = at; i < raw.length; i++) {
      const b = raw[i];
      if (b === QUOTE) {
        i = skipString(raw, i) - 1;
        if (i < 0) return -1;
      } else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
      else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  let i = at;
  while (i < raw.length) {
    const b = raw[i];
    if (b === COMMA || b === CLOSE_BRACE || isSpace(b)) break;
    i++;
  }
  return i > at ? i : -1;
}

function hasByte(raw: Buffer, byte: number, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (raw[i] === byte) return true;
  return false;
}

function skipSpace(raw: Buffer, i: number): number {
  while (isSpace(raw[i])) i++;
  return i;
}

/** Whether raw[from, to) holds exactly the bytes of `name`. */
function sameBytes(raw: Buffer, from: number, to: number, name: Buffer): boolean {
  if (to - from !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (raw[from + i] !== name[i]) return false;
  return true;
}

/**
 * The top-level members of the JSON object in `raw`, in order, each with the index of the name
 * in `names` (UTF-8, unescaped) its key is; undefined if `raw` is not a JSON object.
 */
function members(raw: Buffer, names: readonly Buffer[]): Member[] | undefined {
  let i = skipSpace(raw, 0);
  if (raw[i] !== OPEN_BRACE) return undefined;
  i = skipSpace(raw, i + 1);
  const out: Member[] = [];
  if (raw[i] === CLOSE_BRACE) return out;
  for (;;) {
    if (raw[i] !== QUOTE) return undefined;
    const start = i;
    const keyEnd = skipString(raw, i);
    if (keyEnd === -1) return undefined;
    let edit = -1;
    if (hasByte(raw, BACKSLASH, start, keyEnd)) {
      // An escaped key (no real client sends one): decoded to compare.
      const key = Buffer.from(JSON.parse(raw.toString('utf8', start, keyEnd)) as string);
      edit = names.findIndex((n) => n.equals(key));
    } else {
      for (let k = 0; k < names.length && edit === -1; k++)
        if (sameBytes(raw, start + 1, keyEnd - 1, names[k] as Buffer)) edit = k;
    }
    i = skipSpace(raw, keyEnd);
    if (raw[i] !== COLON) return undefined;
    i = skipSpace(raw, i + 1);
    const end = skipValue(raw, i);
    if (end === -1) return undefined;
    out.push({ edit, start, end });
    i = skipSpace(raw, end);
    if (raw[i] === CLOSE_BRACE) return out;
    if (raw[i] !== COMMA) return undefined;
    i = skipSpace(raw, i + 1);
  }
}

/**
 * Field names as bytes, made once: the names edits use are a handful (`max_tokens`, `stop`, ...).
 * Bounded, so names from elsewhere cannot grow it without limit.
 */
const NAME_BYTES = new Map<string, Buffer>();
function nameBytes(name: string): Buffer {
  let b = NAME_BYTES.get(name);
  if (b === undefined) {
    b = Buffer.from(name);
    if (NAME_BYTES.size < 64) NAME_BYTES.set(name, b);
  }
  return b;
}

/**
 * `raw` (a JSON object) with the top-level fields in `edits` set to their values (`undefined`
 * removes the field): a replaced field keeps its place, a new one goes last, every other byte is
 * copied as it is. Undefined if `raw` is not a JSON object (the caller serializes instead).
 */
export function spliceFields(raw: Buffer, edits: ReadonlyMap<string, unknown>): Buffer | undefined {
  const entries = [...edits];
  const list = members(
    raw,
    entries.map(([name]) => nameBytes(name)),
  );
  if (list === undefined) return undefined;
  // The output, in order: spans of `raw` to copy ([start, end]) and edited members as text.
  const parts: ([number, number] | string)[] = [];
  let length = 2; // { }
  const put = (part: [number, number] | string, bytes: number): void => {
    if (parts.length > 0) length++; // ,
    parts.push(part);
    length += bytes;
  };
  const putEdit = (k: number): void => {
    const [name, v] = entries[k] as [string, unknown];
    if (v === undefined) return;
    const text = `${JSON.stringify(name)}:${JSON.stringify(v)}`;
    put(text, Buffer.byteLength(text));
  };
  const done = new Array<boolean>(entries.length).fill(false);
  for (const m of list) {
    if (m.edit === -1) put([m.start, m.end], m.end - m.start);
    // A duplicate key in the client's body: the first place takes the edit, the rest go.
    else if (!done[m.edit]) {
      done[m.edit] = true;
      putEdit(m.edit);
    }
  }
  for (let k = 0; k < entries.length; k++) if (!done[k]) putEdit(k);
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  out[at++] = OPEN_BRACE;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) out[at++] = COMMA;
    const part = parts[i] as [number, number] | string;
    at += typeof part === 'string' ? out.write(part, at) : raw.copy(out, at, part[0], part[1]);
  }
  out[at++] = CLOSE_BRACE;
  return out;
}
