import type { ClientProtocolName } from '../../protocol/client/protocol.js';
import type { CompletionRequest } from '../../protocol/model.js';
import type { RuleMatchConfig } from '../rules-schema.js';
import {
  parseProduct,
  parseProductSpec,
  parseUserAgent,
  productMatches,
  type Product,
  type ProductSpec,
} from './product.js';

/** What rules may look at besides the request body: the route and the headers. */
export interface RuleHttp {
  readonly path: string;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
}

/** The verified caller (the request context's identity), when auth is on. */
export interface RuleIdentity {
  readonly uid: string;
  readonly sku: string;
  readonly org: string | undefined;
}

/**
 * One request as rules see it while they are evaluated. The model follows earlier rules'
 * `routeTo`; the editor, plugin and User-Agent are parsed on first use, at most once per request,
 * and only when some candidate rule asks about them.
 */
export class Subject {
  model: string | undefined;
  #language: string | null | undefined = null;
  #editor: Product | null | undefined = null;
  #plugin: Product | null | undefined = null;
  #userAgent: readonly Product[] | undefined;

  constructor(
    readonly req: CompletionRequest,
    readonly http: RuleHttp,
    readonly identity: RuleIdentity | undefined,
  ) {
    this.model = req.model;
  }

  /** The language, lower case. */
  get language(): string | undefined {
    if (this.#language === null) this.#language = this.req.language?.toLowerCase();
    return this.#language;
  }

  get editor(): Product | undefined {
    if (this.#editor === null) this.#editor = parseProduct(this.req.client.editor);
    return this.#editor;
  }

  get plugin(): Product | undefined {
    if (this.#plugin === null) this.#plugin = parseProduct(this.req.client.plugin);
    return this.#plugin;
  }

  get userAgent(): readonly Product[] {
    return (this.#userAgent ??= parseUserAgent(this.http.header('user-agent')));
  }
}

/** One condition of a rule. */
export type Test = (s: Subject) => boolean;

/** A rule's conditions, compiled: what the index uses, and the tests left for each request. */
export interface CompiledMatch {
  /** The client protocols it can match; undefined: any. */
  readonly protocols: ReadonlySet<ClientProtocolName> | undefined;
  /**
   * The exact model names it can match, when its model condition has no pattern (the index then
   * guarantees the model and no test is needed); undefined: decided by the tests.
   */
  readonly models: readonly string[] | undefined;
  /** Cheapest first; all must hold. */
  readonly tests: readonly Test[];
}

/** Compiles a rule's `match` (already validated by the schema). */
export function compileMatch(m: RuleMatchConfig): CompiledMatch {
  const tests: Test[] = [];
  const exactModels = m.model !== undefined && m.model.every((p) => !p.endsWith('*')) ? m.model : undefined;
  if (m.model !== undefined && exactModels === undefined) {
    const model = matcher(m.model);
    tests.push((s) => s.model !== undefined && model(s.model));
  }
  if (m.path !== undefined) {
    const path = matcher(m.path);
    tests.push((s) => path(s.http.path));
  }
  if (m.language !== undefined) {
    const language = new Set(m.language.map((l) => l.toLowerCase()));
    tests.push((s) => {
      const l = s.language;
      return l !== undefined && language.has(l);
    });
  }
  if (m.user !== undefined) {
    const users = new Set(m.user);
    tests.push((s) => s.identity !== undefined && users.has(s.identity.uid));
  }
  if (m.sku !== undefined) {
    const skus = new Set(m.sku);
    tests.push((s) => s.identity !== undefined && skus.has(s.identity.sku));
  }
  if (m.org !== undefined) {
    const orgs = new Set(m.org);
    tests.push((s) => s.identity?.org !== undefined && orgs.has(s.identity.org));
  }
  for (const [name, patterns] of Object.entries(m.headers ?? {})) {
    const value = matcher(patterns);
    tests.push((s) => {
      const v = s.http.header(name);
      return v !== undefined && value(v);
    });
  }
  if (m.editor !== undefined) {
    const specs = m.editor.map(spec);
    tests.push((s) => {
      const p = s.editor;
      return p !== undefined && specs.some((x) => productMatches(x, p));
    });
  }
  if (m.plugin !== undefined) {
    const specs = m.plugin.map(spec);
    tests.push((s) => {
      const p = s.plugin;
      return p !== undefined && specs.some((x) => productMatches(x, p));
    });
  }
  if (m.userAgent !== undefined) {
    const specs = m.userAgent.map(spec);
    tests.push((s) => s.userAgent.some((p) => specs.some((x) => productMatches(x, p))));
  }
  return {
    protocols: m.protocol === undefined ? undefined : new Set(m.protocol),
    models: exactModels,
    tests,
  };
}

function spec(text: string): ProductSpec {
  const s = parseProductSpec(text);
  // The schema refused the config before this could be reached.
  if (typeof s === 'string') throw new Error(`rewrite rule: ${s}`);
  return s;
}

/**
 * A test of a value against exact values and `prefix*` patterns (`*` alone: any value). The usual
 * single exact value is one string comparison.
 */
export function matcher(patterns: readonly string[]): (v: string) => boolean {
  if (patterns.includes('*')) return () => true;
  const exact = patterns.filter((p) => !p.endsWith('*'));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  if (prefixes.length === 0 && exact.length === 1) {
    const only = exact[0] as string;
    return (v) => v === only;
  }
  const set = new Set(exact);
  if (prefixes.length === 0) return (v) => set.has(v);
  return (v) => set.has(v) || prefixes.some((p) => v.startsWith(p));
}
