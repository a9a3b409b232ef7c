/** The request the benchmark sends: a Copilot-style streaming completion with a realistic prompt. */

// A few KB of real-looking source as the prompt, a suffix, small max_tokens: what an editor plugin
// sends on every keystroke pause. Sixteen variants of 2–4 KB so nothing downstream sees one
// repeated buffer.
const CODE_LINES = [
  'import { createHash } from "node:crypto";',
  'import type { Request, Response } from "./http.js";',
  '',
  '/** Caches responses by a hash of the request body for a short time. */',
  'export class ResponseCache {',
  '  private readonly entries = new Map<string, { expires: number; body: Buffer }>();',
  '  constructor(private readonly ttlMs: number, private readonly maxEntries = 1000) {}',
  '',
  '  key(req: Request): string {',
  '    return createHash("sha256").update(req.method).update(req.url).update(req.body).digest("hex");',
  '  }',
  '',
  '  get(req: Request): Buffer | undefined {',
  '    const entry = this.entries.get(this.key(req));',
  '    if (entry === undefined || entry.expires < Date.now()) return undefined;',
  '    return entry.body;',
  '  }',
  '',
  '  set(req: Request, res: Response): void {',
  '    if (this.entries.size >= this.maxEntries) {',
  '      const oldest = this.entries.keys().next().value;',
  '      if (oldest !== undefined) this.entries.delete(oldest);',
  '    }',
  '    this.entries.set(this.key(req), { expires: Date.now() + this.ttlMs, body: res.body });',
  '  }',
  '}',
  '',
  'export function parseRange(header: string | undefined, size: number): [number, number] | null {',
  '  if (header === undefined || !header.startsWith("bytes=")) return null;',
  '  const [startText, endText] = header.slice(6).split("-", 2);',
  '  const start = startText === "" ? size - Number(endText) : Number(startText);',
  '  const end = endText === "" || startText === "" ? size - 1 : Number(endText);',
  '  if (!Number.isInteger(start) || !Number.isInteger(end) || start > end || end >= size) return null;',
  '  return [start, end];',
  '}',
  '',
];

/** The code a user is in the middle of typing: what ends every benchmark prompt. */
export const UNFINISHED_CODE =
  'export function isFresh(entry: { expires: number }, now = Date.now()): boolean {\n  return ';
const SUFFIX = '\n}\n';

/** Prompt i of 16: a file header, 2–4 KB of code, and a line being typed. */
function promptVariant(i: number): string {
  const target = 2048 + ((i * 131) % 2048);
  const header = `// file: src/cache/response-cache-${i}.ts`;
  return [header, codeSnippet(i, target - header.length), UNFINISHED_CODE].join('\n');
}

/** At least `minChars` of real-looking code, whole lines, starting at line `start` of the sample. */
export function codeSnippet(start: number, minChars: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let k = start; size < minChars; k++) {
    const line = CODE_LINES[k % CODE_LINES.length] ?? '';
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join('\n');
}

/** A Copilot-style streaming completion body (the fields a real client sends), as JSON text. */
export function completionJson(prompt: string, maxTokens: number): string {
  return JSON.stringify({
    prompt,
    suffix: SUFFIX,
    max_tokens: maxTokens,
    temperature: 0,
    top_p: 1,
    n: 1,
    stop: ['\n\n\n'],
    stream: true,
    // No trim_by_indentation: ghostwire would end completions where the simulator's synthetic
    // code closes a block, while direct and the naive proxy stream every token. The benchmark
    // compares the same output through each path; the stop sequence is kept (the gateway
    // enforces it as the text streams; the simulator honours it too, so the output is the same).
    extra: { language: 'typescript', next_indent: 2 },
  });
}

/** The request bodies the load client cycles through (JSON, 2–4 KB each). */
export function requestBodies(maxTokens: number): Buffer[] {
  return Array.from({ length: 16 }, (_, i) => Buffer.from(completionJson(promptVariant(i), maxTokens)));
}

/** Headers one request adds to the connection's own, in the form each load-client transport takes. */
export interface ExtraHeaders {
  readonly fields: Readonly<Record<string, string>>;
  /** The same fields HPACK-encoded once (bench/h2-client.ts encodeHeaders). */
  readonly hpack: Buffer;
}

/** One request to send. */
export interface WorkItem {
  readonly body: Buffer;
  readonly headers: ExtraHeaders | undefined;
}

/** Where the load client takes its requests from; next() runs per request, so it must be cheap. */
export interface Workload {
  next(): WorkItem;
}

/** The default workload: the 16 bodies of requestBodies in turn, no extra headers. */
export function cyclingWorkload(maxTokens: number): Workload {
  const items: WorkItem[] = requestBodies(maxTokens).map((body) => ({ body, headers: undefined }));
  let i = 0;
  return {
    next(): WorkItem {
      const item = items[i++ % items.length];
      if (item === undefined) throw new Error('unreachable: the workload has 16 bodies');
      return item;
    },
  };
}

/**
 * Editors and plugin versions as Copilot clients send them (Editor-Version, Editor-Plugin-Version,
 * User-Agent): the headers rewrite rules and experiments match on, in a mix of old and new.
 */
export const EDITORS: readonly Readonly<Record<string, string>>[] = [
  ['vscode/1.95.3', 'copilot/1.250.0'],
  ['vscode/1.96.2', 'copilot/1.254.0'],
  ['vscode/1.89.1', 'copilot/1.180.0'],
  ['JetBrains-IC/2024.3', 'copilot-intellij/1.5.30'],
  ['JetBrains-PY/2024.2.4', 'copilot-intellij/1.5.21'],
  ['Neovim/0.10.2', 'copilot.vim/1.41.0'],
  ['vscode/1.82.0', 'copilot/1.120.0'],
  ['Xcode/16.1', 'copilot-xcode/0.27.0'],
].map(([editor, plugin]) => ({
  'editor-version': editor as string,
  'editor-plugin-version': plugin as string,
  'user-agent': `GithubCopilot/${(plugin as string).split('/')[1] ?? '1.0.0'}`,
}));

/** The 16 bodies in turn, each request from one of EDITORS in turn (8 × 16 combinations). */
export function editorsWorkload(
  maxTokens: number,
  encode: (h: Readonly<Record<string, string>>) => Buffer,
): Workload {
  const bodies = requestBodies(maxTokens);
  const headers: ExtraHeaders[] = EDITORS.map((fields) => ({ fields, hpack: encode(fields) }));
  let i = 0;
  return {
    next(): WorkItem {
      const n = i++;
      const body = bodies[n % bodies.length];
      const h = headers[Math.floor(n / bodies.length) % headers.length];
      if (body === undefined || h === undefined) throw new Error('unreachable: fixed, non-empty lists');
      return { body, headers: h };
    },
  };
}
