import { parseRange, parseVersion, satisfies, type Range, type Version } from './semver.js';

/**
 * Editors and plugins as clients name themselves: `Editor-Version: vscode/1.95.0`,
 * `Editor-Plugin-Version: copilot/1.250.0`, `User-Agent: GithubCopilot/1.250.0 (…) node/20`.
 * A rule names one as `"<name> [<range>]"` (`"copilot <1.200.0"`, `"vscode"`); names compare
 * case-insensitively, `*` is any name.
 */

/** What one `name/version` says; the version is undefined when it cannot be read. */
export interface Product {
  readonly name: string;
  readonly version: Version | undefined;
}

/** A compiled `"<name> [<range>]"`. */
export interface ProductSpec {
  /** Lower case; undefined for `*` (any name). */
  readonly name: string | undefined;
  /** Undefined: any version, also one that cannot be read or none at all. */
  readonly range: Range | undefined;
}

/** Header values longer than this are not read: no client names itself at such length. */
const MAX_HEADER_CHARS = 512;
/** User-Agent products looked at, at most. */
const MAX_PRODUCTS = 16;

/**
 * Parsed `name/version` products (and User-Agent lists) by header value: a fleet sends a few hundred distinct editor and
 * plugin versions, each parsed once instead of on every request. Bounded; a value seen when it is
 * full is parsed and not kept. Parsing is a pure function of the text, so sharing it is safe.
 */
const PRODUCTS = new Map<string, Product | undefined>();
const USER_AGENTS = new Map<string, readonly Product[]>();
const MAX_CACHED_PRODUCTS = 1024;

/** `name/version` (Editor-Version, Editor-Plugin-Version), or undefined without a slash. */
export function parseProduct(value: string | undefined): Product | undefined {
  if (value === undefined || value.length > MAX_HEADER_CHARS) return undefined;
  if (PRODUCTS.has(value)) return PRODUCTS.get(value);
  const p = parseProductText(value);
  if (PRODUCTS.size < MAX_CACHED_PRODUCTS) PRODUCTS.set(value, p);
  return p;
}

function parseProductText(value: string): Product | undefined {
  const slash = value.indexOf('/');
  if (slash <= 0) return undefined;
  return {
    name: value.slice(0, slash).trim().toLowerCase(),
    version: parseVersion(value.slice(slash + 1).trim()),
  };
}

/** The `name/version` products of a User-Agent, in order; comments in parentheses are skipped. */
export function parseUserAgent(value: string | undefined): readonly Product[] {
  if (value === undefined || value.length > MAX_HEADER_CHARS) return [];
  let list = USER_AGENTS.get(value);
  if (list === undefined) {
    list = Object.freeze(parseUserAgentText(value));
    if (USER_AGENTS.size < MAX_CACHED_PRODUCTS) USER_AGENTS.set(value, list);
  }
  return list;
}

function parseUserAgentText(value: string): Product[] {
  const out: Product[] = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i <= value.length && out.length < MAX_PRODUCTS; i++) {
    const c = i < value.length ? value.charCodeAt(i) : 32;
    if (c === 40 /* ( */) depth++;
    else if (c === 41 /* ) */) depth = Math.max(0, depth - 1);
    else if (depth === 0 && c !== 32 && c !== 9 && start === -1) start = i;
    if (start !== -1 && (depth > 0 || c === 32 || c === 9)) {
      const p = parseProduct(value.slice(start, i));
      if (p !== undefined) out.push(p);
      start = -1;
    }
  }
  return out;
}

/** A spec, or the reason it cannot be read (for the config error). */
export function parseProductSpec(text: string): ProductSpec | string {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  const name = space === -1 ? trimmed : trimmed.slice(0, space);
  if (!/^[A-Za-z0-9._*+-]{1,64}$/.test(name) || (name.includes('*') && name !== '*'))
    return `"${text}": expected "<name> [<version range>]", e.g. "copilot <1.200.0" (name: letters, digits, . _ + -, or * for any)`;
  if (space === -1) return { name: name === '*' ? undefined : name.toLowerCase(), range: undefined };
  const parsed = parseRange(trimmed.slice(space + 1).trim());
  if (!parsed.ok) return `"${text}": version range ${parsed.error}`;
  return { name: name === '*' ? undefined : name.toLowerCase(), range: parsed.range };
}

/** Whether a product is the spec's name with a version in its range. */
export function productMatches(spec: ProductSpec, p: Product): boolean {
  if (spec.name !== undefined && spec.name !== p.name) return false;
  if (spec.range === undefined) return true;
  return p.version !== undefined && satisfies(p.version, spec.range);
}
