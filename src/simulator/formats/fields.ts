/** A body field of the wrong type: which one, and what it should have been. */
export interface FieldProblem {
  param: string;
  message: string;
}

/** The body as a plain object, or undefined when it is not one (an array, a string, null). */
export function asObject(body: unknown): Record<string, unknown> | undefined {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined;
}

/**
 * Reads the known fields of a JSON object strictly, as OpenAI-style servers do: an absent or null
 * field is undefined, a field of the wrong type is remembered as `problem` (the first one only) and
 * read as undefined, so a parser reads every field and checks `problem` once at the end.
 */
export class FieldReader {
  readonly #obj: Readonly<Record<string, unknown>>;
  readonly #prefix: string;
  /** The reader of the whole body: nested readers report there, so a body has one problem slot. */
  readonly #root: FieldReader;
  #problem: FieldProblem | undefined;

  /** `prefix` names a nested object in messages ('parameters.' for TGI). */
  constructor(obj: Readonly<Record<string, unknown>>, prefix = '', root?: FieldReader) {
    this.#obj = obj;
    this.#prefix = prefix;
    this.#root = root ?? this;
  }

  /** The first field of the wrong type anywhere in the body, if any. */
  get problem(): FieldProblem | undefined {
    return this.#root.#problem;
  }

  /** Records a problem with a field (the first one wins) and returns undefined. */
  fail(name: string, want: string): undefined {
    const param = this.#prefix + name;
    this.#root.#problem ??= { param, message: `'${param}' must be ${want}.` };
    return undefined;
  }

  /** The raw value, undefined for absent or null. */
  raw(name: string): unknown {
    const v = this.#obj[name];
    return v === null ? undefined : v;
  }

  string(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined || typeof v === 'string') return v;
    return this.fail(name, 'a string');
  }

  boolean(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined || typeof v === 'boolean') return v;
    return this.fail(name, 'a boolean');
  }

  int(
    name: string,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
    want = `an integer >= ${min}`,
  ): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    return this.fail(name, want);
  }

  number(
    name: string,
    min: number,
    max: number,
    want = `a number between ${min} and ${max}`,
  ): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v === 'number' && v >= min && v <= max) return v;
    return this.fail(name, want);
  }

  /** `stop`: one string or an array of at most `max` strings; empty strings dropped. */
  stops(name: string, max: number, acceptString = true): string[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (acceptString && typeof v === 'string') return v.length > 0 ? [v] : [];
    if (Array.isArray(v) && v.length <= max && v.every((s) => typeof s === 'string')) {
      return v.filter((s) => s.length > 0);
    }
    const one = acceptString ? 'a string or ' : '';
    return this.fail(name, `${one}an array of at most ${max} strings`);
  }

  /** A nested object's reader (reporting to the same problem slot); undefined when absent. */
  object(name: string): FieldReader | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    const obj = asObject(v);
    if (obj === undefined) return this.fail(name, 'an object');
    return new FieldReader(obj, `${this.#prefix}${name}.`, this.#root);
  }
}
