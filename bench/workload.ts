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

function promptVariant(i: number): { prompt: string; suffix: string } {
  const target = 2048 + ((i * 131) % 2048);
  const lines: string[] = [`// file: src/cache/response-cache-${i}.ts`];
  let size = lines[0]?.length ?? 0;
  for (let k = i; size < target; k++) {
    const line = CODE_LINES[k % CODE_LINES.length] ?? '';
    lines.push(line);
    size += line.length + 1;
  }
  lines.push('export function isFresh(entry: { expires: number }, now = Date.now()): boolean {', '  return ');
  return { prompt: lines.join('\n'), suffix: '\n}\n' };
}

/** The request bodies the load client cycles through (JSON, 2–4 KB each). */
export function requestBodies(maxTokens: number): Buffer[] {
  return Array.from({ length: 16 }, (_, i) => {
    const { prompt, suffix } = promptVariant(i);
    return Buffer.from(
      JSON.stringify({
        prompt,
        suffix,
        max_tokens: maxTokens,
        temperature: 0,
        top_p: 1,
        n: 1,
        stop: ['\n\n\n'],
        stream: true,
        extra: { language: 'typescript', next_indent: 2, trim_by_indentation: true },
      }),
    );
  });
}
