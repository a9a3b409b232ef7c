/**
 * Versions and version ranges for rewrite rules (`plugin: "copilot <1.200.0"`). Ranges are npm's
 * syntax and mean what npm's `semver` means with `includePrerelease: true`: a prerelease such as
 * `1.96.0-insider` is ordered by semver precedence (just below `1.96.0`) and is not set apart.
 * A range is compiled once, at config load, into comparator tuples; a request pays for a few
 * integer comparisons. Versions come from clients, so parsing them is lenient and never throws:
 * what cannot be read is `undefined`, and an unreadable version satisfies no range.
 */

/** A prerelease identifier: numeric ones compare as numbers and sort before alphanumeric ones. */
type Identifier = number | string;

/** major.minor.patch and the prerelease identifiers (empty for a release). Build metadata is dropped. */
export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly pre: readonly Identifier[];
}

const enum Op {
  Lt,
  Le,
  Gt,
  Ge,
  Eq,
}

interface Comparator {
  readonly op: Op;
  readonly v: Version;
}

/** Any of the sets (`||`), each satisfied when all its comparators are. An empty set is any version. */
export interface Range {
  readonly sets: readonly (readonly Comparator[])[];
}

/** Client versions longer than this are not read (headers can be long; versions are not). */
const MAX_VERSION_CHARS = 64;
/** Components are safe integers: at most 15 digits. */
const NUMBER = /^\d{1,15}$/;
/**
 * Lenient client versions: an optional `v`, 1 to 4 numeric parts (`1.95` is 1.95.0; Visual
 * Studio's fourth part is ignored), an optional prerelease and build. Linear: no nested repeats.
 */
const CLIENT_VERSION =
  /^v?(\d{1,15})(?:\.(\d{1,15}))?(?:\.(\d{1,15}))?(?:\.\d{1,15})?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]*)?$/;

/** A client's version string, or undefined when it cannot be read. Never throws. */
export function parseVersion(text: string): Version | undefined {
  if (text.length > MAX_VERSION_CHARS) return undefined;
  const m = CLIENT_VERSION.exec(text);
  if (m === null) return undefined;
  const pre = m[4] === undefined ? [] : identifiers(m[4]);
  if (pre === undefined) return undefined;
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), patch: Number(m[3] ?? 0), pre };
}

function identifiers(text: string): Identifier[] | undefined {
  const out: Identifier[] = [];
  for (const id of text.split('.')) {
    if (id.length === 0) return undefined;
    out.push(/^\d+$/.test(id) ? (NUMBER.test(id) ? Number(id) : id) : id);
  }
  return out;
}

/** Semver precedence: negative, zero or positive as `a` is below, equal to or above `b`. */
export function compareVersions(a: Version, b: Version): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  const ap = a.pre;
  const bp = b.pre;
  // A release is above its prereleases.
  if (ap.length === 0 || bp.length === 0) return bp.length - ap.length;
  for (let i = 0; i < ap.length && i < bp.length; i++) {
    const x = ap[i] as Identifier;
    const y = bp[i] as Identifier;
    if (x === y) continue;
    if (typeof x === 'number') return typeof y === 'number' ? x - y : -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return ap.length - bp.length;
}

/** Whether `v` is in `range`. */
export function satisfies(v: Version, range: Range): boolean {
  for (const set of range.sets) if (setHolds(v, set)) return true;
  return false;
}

function setHolds(v: Version, set: readonly Comparator[]): boolean {
  for (const c of set) {
    const d = compareVersions(v, c.v);
    switch (c.op) {
      case Op.Lt:
        if (d >= 0) return false;
        break;
      case Op.Le:
        if (d > 0) return false;
        break;
      case Op.Gt:
        if (d <= 0) return false;
        break;
      case Op.Ge:
        if (d < 0) return false;
        break;
      case Op.Eq:
        if (d !== 0) return false;
        break;
    }
  }
  return true;
}

/** A range, or the reason it cannot be read (for the config error). */
export type ParsedRange =
  { readonly ok: true; readonly range: Range } | { readonly ok: false; readonly error: string };

const MAX_RANGE_CHARS = 256;

/**
 * Compiles an npm-style range: `<1.200.0`, `>=1.2 <2`, `^1.2.3`, `~1.2`, `1.x`, `1.2.3 - 1.4`,
 * `*`, alternatives joined by `||`. Strict, as config should be: anything else is an error.
 */
export function parseRange(text: string): ParsedRange {
  if (text.length > MAX_RANGE_CHARS) return { ok: false, error: `longer than ${MAX_RANGE_CHARS} characters` };
  const sets: Comparator[][] = [];
  for (const alternative of text.split('||')) {
    const set = parseSet(alternative.trim());
    if (typeof set === 'string') return { ok: false, error: `"${alternative.trim()}": ${set}` };
    sets.push(set);
  }
  return { ok: true, range: { sets } };
}

/** A partial version from a range: each part a number, or undefined for a missing part or x / X / *. */
interface Partial {
  readonly major: number | undefined;
  readonly minor: number | undefined;
  readonly patch: number | undefined;
  readonly pre: readonly Identifier[];
}

const PARTIAL =
  /^v?(\d{1,15}|[xX*])(?:\.(\d{1,15}|[xX*]))?(?:\.(\d{1,15}|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
const LOWEST: readonly Identifier[] = [0];
const NOTHING: Comparator[] = [{ op: Op.Lt, v: { major: 0, minor: 0, patch: 0, pre: LOWEST } }];

function parsePartial(text: string): Partial | string {
  const m = PARTIAL.exec(text);
  if (m === null) return `"${text}" is not a version`;
  const part = (s: string | undefined): number | undefined =>
    s === undefined || s === 'x' || s === 'X' || s === '*' ? undefined : Number(s);
  const major = part(m[1]);
  const minor = part(m[2]);
  const patch = part(m[3]);
  // 1.x.3 or x.2: a wildcard may only be followed by wildcards.
  if (
    (major === undefined && (minor !== undefined || patch !== undefined)) ||
    (minor === undefined && patch !== undefined)
  )
    return `"${text}": a wildcard must not be followed by a number`;
  const pre = m[4] === undefined ? [] : identifiers(m[4]);
  if (pre === undefined) return `"${text}" has an empty prerelease identifier`;
  if (pre.length > 0 && patch === undefined) return `"${text}": a prerelease needs a full version`;
  return { major, minor, patch, pre };
}

const ver = (major: number, minor: number, patch: number, pre: readonly Identifier[] = []): Version => ({
  major,
  minor,
  patch,
  pre,
});

/** One `||` alternative: a hyphen range, or comparators separated by spaces. */
function parseSet(text: string): Comparator[] | string {
  if (text === '') return [];
  const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text);
  if (hyphen !== null) return hyphenRange(hyphen[1] as string, hyphen[2] as string);
  // `>= 1.2.3` and `~ 1.2` are written with a space too: join an operator to its version.
  const tokens = text.replace(/(<=|>=|<|>|=|~>|~|\^)\s+/g, '$1').split(/\s+/);
  const out: Comparator[] = [];
  for (const token of tokens) {
    const c = comparators(token);
    if (typeof c === 'string') return c;
    out.push(...c);
  }
  return out;
}

function comparators(token: string): Comparator[] | string {
  const m = /^(<=|>=|<|>|=|~>|~|\^)?(.*)$/.exec(token) as RegExpExecArray;
  const op = m[1] ?? '';
  const p = parsePartial(m[2] as string);
  if (typeof p === 'string') return p;
  switch (op) {
    case '^':
      return caret(p);
    case '~':
    case '~>':
      return tilde(p);
    case '':
    case '=':
      return xRange(p);
    default:
      return primitive(op, p);
  }
}

/** `1.2.3` is exactly it; `1.2` / `1.2.x` is any 1.2 (prereleases of 1.2.0 included); `*` is any. */
function xRange(p: Partial): Comparator[] {
  if (p.major === undefined) return [];
  if (p.minor === undefined)
    return [
      { op: Op.Ge, v: ver(p.major, 0, 0, LOWEST) },
      { op: Op.Lt, v: ver(p.major + 1, 0, 0, LOWEST) },
    ];
  if (p.patch === undefined)
    return [
      { op: Op.Ge, v: ver(p.major, p.minor, 0, LOWEST) },
      { op: Op.Lt, v: ver(p.major, p.minor + 1, 0, LOWEST) },
    ];
  return [{ op: Op.Eq, v: ver(p.major, p.minor, p.patch, p.pre) }];
}

/** `<`, `<=`, `>`, `>=` with a partial version: `<1.2` is below every 1.2, `<=1.2` includes all of 1.2. */
function primitive(op: string, p: Partial): Comparator[] {
  if (p.major === undefined) return op === '<' || op === '>' ? NOTHING : [];
  if (p.minor !== undefined && p.patch !== undefined) {
    const v = ver(p.major, p.minor, p.patch, p.pre);
    return [{ op: op === '<' ? Op.Lt : op === '<=' ? Op.Le : op === '>' ? Op.Gt : Op.Ge, v }];
  }
  const minor = p.minor ?? 0;
  // The first version past the partial one: 1 -> 2.0.0, 1.2 -> 1.3.0.
  const next = p.minor === undefined ? ver(p.major + 1, 0, 0, LOWEST) : ver(p.major, minor + 1, 0, LOWEST);
  switch (op) {
    case '<':
      return [{ op: Op.Lt, v: ver(p.major, minor, 0, LOWEST) }];
    case '<=':
      return [{ op: Op.Lt, v: next }];
    case '>':
      return [{ op: Op.Ge, v: next }];
    default:
      return [{ op: Op.Ge, v: ver(p.major, minor, 0, LOWEST) }];
  }
}

/** `~1.2.3` is >=1.2.3 <1.3.0; `~1.2` any 1.2; `~1` any 1. */
function tilde(p: Partial): Comparator[] {
  if (p.major === undefined) return [];
  if (p.minor === undefined || p.patch === undefined) return xRange(p);
  return [
    { op: Op.Ge, v: ver(p.major, p.minor, p.patch, p.pre) },
    { op: Op.Lt, v: ver(p.major, p.minor + 1, 0, LOWEST) },
  ];
}

/** `^1.2.3` is >=1.2.3 <2.0.0; left of the first non-zero part nothing may change (`^0.2.3` <0.3.0). */
function caret(p: Partial): Comparator[] {
  const { major, minor, patch } = p;
  if (major === undefined) return [];
  if (minor === undefined) return xRange(p);
  if (patch === undefined)
    return [
      { op: Op.Ge, v: ver(major, minor, 0, LOWEST) },
      { op: Op.Lt, v: major === 0 ? ver(0, minor + 1, 0, LOWEST) : ver(major + 1, 0, 0, LOWEST) },
    ];
  const upper =
    major !== 0
      ? ver(major + 1, 0, 0, LOWEST)
      : minor !== 0
        ? ver(0, minor + 1, 0, LOWEST)
        : ver(0, 0, patch + 1, LOWEST);
  return [
    { op: Op.Ge, v: ver(major, minor, patch, p.pre) },
    { op: Op.Lt, v: upper },
  ];
}

/** `1.2.3 - 2.3`: from the first (missing parts are 0) to the end of the second (`2.3` is all of 2.3). */
function hyphenRange(fromText: string, toText: string): Comparator[] | string {
  const from = parsePartial(fromText);
  if (typeof from === 'string') return from;
  const to = parsePartial(toText);
  if (typeof to === 'string') return to;
  const out: Comparator[] = [];
  if (from.major !== undefined) {
    const full = from.minor !== undefined && from.patch !== undefined;
    out.push({
      op: Op.Ge,
      v: ver(from.major, from.minor ?? 0, from.patch ?? 0, full && from.pre.length > 0 ? from.pre : LOWEST),
    });
  }
  if (to.major !== undefined) {
    if (to.minor === undefined) out.push({ op: Op.Lt, v: ver(to.major + 1, 0, 0, LOWEST) });
    else if (to.patch === undefined) out.push({ op: Op.Lt, v: ver(to.major, to.minor + 1, 0, LOWEST) });
    else if (to.pre.length > 0) out.push({ op: Op.Le, v: ver(to.major, to.minor, to.patch, to.pre) });
    else out.push({ op: Op.Lt, v: ver(to.major, to.minor, to.patch + 1, LOWEST) });
  }
  return out;
}
