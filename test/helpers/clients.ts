import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { fileURLToPath } from 'node:url';

/** The test CA (our self-signed localhost certificate). */
export const TLS_DIR = fileURLToPath(new URL('../../../test/fixtures/tls/', import.meta.url));
export const TEST_CERT = `${TLS_DIR}cert.pem`;
export const TEST_KEY = `${TLS_DIR}key.pem`;
export const TEST_CA = readFileSync(TEST_CERT);

/** What crossed the wire for one request, with arrival times of each chunk. */
export interface Received {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  chunks: { atMs: number; data: string }[];
  startedAt: number;
  endedAt: number;
}

/** Opens an HTTP/2 session (h2c for http:, TLS with our test CA for https:). */
export function h2connect(url: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, url.startsWith('https:') ? { ca: TEST_CA } : {});
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/** One request on an existing HTTP/2 session; resolves when the stream ends. */
export function h2request(
  session: http2.ClientHttp2Session,
  path: string,
  body: string | Buffer | undefined,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<Received> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const req = session.request({
      ':method': method,
      ':path': path,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    });
    const out: Received = { status: 0, headers: {}, body: '', chunks: [], startedAt, endedAt: 0 };
    req.on('response', (h) => {
      out.status = Number(h[':status']);
      out.headers = h;
    });
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      out.body += d;
      out.chunks.push({ atMs: performance.now() - startedAt, data: d });
    });
    req.on('end', () => {
      out.endedAt = performance.now();
      resolve(out);
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else req.end(body);
  });
}

/** One HTTP/1.1 request on a fresh connection (agent: false), optionally over TLS. */
export function h1request(
  url: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<Received> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      {
        host: u.hostname,
        port: u.port,
        path,
        method,
        agent: false,
        ...(u.protocol === 'https:' ? { ca: TEST_CA } : {}),
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      },
      (res) => {
        const out: Received = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: '',
          chunks: [],
          startedAt,
          endedAt: 0,
        };
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          out.body += d;
          out.chunks.push({ atMs: performance.now() - startedAt, data: d });
        });
        res.on('end', () => {
          out.endedAt = performance.now();
          resolve(out);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The JSON payloads of an SSE body's `data:` lines, with `[DONE]` as the string '[DONE]'. */
export function sseEvents(body: string): unknown[] {
  const events: unknown[] = [];
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const payload = line.slice(6);
    events.push(payload === '[DONE]' ? '[DONE]' : (JSON.parse(payload) as unknown));
  }
  return events;
}

/** The completion text of choice `index` from an SSE body. */
export function sseText(body: string, index = 0): string {
  let text = '';
  for (const e of sseEvents(body)) {
    if (typeof e !== 'object' || e === null) continue;
    const choices = (e as { choices?: { index: number; text?: string }[] }).choices ?? [];
    for (const c of choices) if (c.index === index && typeof c.text === 'string') text += c.text;
  }
  return text;
}

/** Waits until `check()` is true, polling; fails after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 3000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A Copilot-style completion body. */
export function copilotBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    prompt:
      'function add1(a) {\n  return a + 1;\n}\nfunction add2(a) {\n  return a + 2;\n}\nfunction add3(a) {\n  return a',
    suffix: '',
    max_tokens: 16,
    temperature: 0,
    top_p: 1,
    n: 1,
    stop: ['\n\n\n'],
    stream: true,
    extra: { language: 'javascript', next_indent: 0 },
    ...extra,
  });
}
