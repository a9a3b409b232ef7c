import http from 'node:http';
import https from 'node:https';

/** A small HTTP/1.1 exchange's answer. */
export interface SmallReply {
  status: number;
  body: string;
}

/**
 * One short HTTP/1.1 request on a fresh connection, bounded in time and size: the token exchange,
 * /healthz and a simulator's /stats. Never the load itself. Rejects on a network error or timeout.
 */
export function smallRequest(
  method: 'GET' | 'POST',
  url: string,
  opts: { headers?: Record<string, string>; insecure?: boolean; timeoutMs?: number; maxBytes?: number } = {},
): Promise<SmallReply> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(
      u,
      {
        method,
        agent: false,
        headers: { 'user-agent': USER_AGENT, ...opts.headers },
        ...(u.protocol === 'https:' && opts.insecure === true ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
          if (body.length > maxBytes)
            req.destroy(new Error(`${method} ${url}: answer over ${maxBytes} bytes`));
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** What the load generator calls itself on the wire (besides the editor headers it imitates). */
export const USER_AGENT = 'ghostwire-loadgen/0.1';

/** A URL without credentials or query, for printing. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
