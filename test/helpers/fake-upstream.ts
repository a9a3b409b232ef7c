import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { listen } from '../../src/util/listen.js';

/** What a fake upstream does with one request. */
export type H2Behaviour = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  body: string,
) => void;

/** A request a fake upstream received. */
export interface Seen {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface FakeUpstream {
  url: string;
  port: number;
  /** Completion requests received (not the gateway's GET health probes, which come at any time). */
  seen: Seen[];
  /** Connections (HTTP/2 sessions or TCP sockets) accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** One SSE chunk in the OpenAI text_completion shape. */
export function sseChunk(text: string, finish: string | null = null): string {
  return `data: ${JSON.stringify({ object: 'text_completion', choices: [{ text, index: 0, finish_reason: finish, logprobs: null }] })}\n\n`;
}

/**
 * A cleartext HTTP/2 upstream with behaviour chosen per test: the edge cases (500s, resets,
 * silence) the real simulator does not produce on demand.
 */
export async function fakeH2Upstream(
  behaviour: H2Behaviour,
  settings: http2.Settings = {},
): Promise<FakeUpstream> {
  const server = http2.createServer({ settings });
  const sessions = new Set<http2.ServerHttp2Session>();
  const fake: FakeUpstream = { url: '', port: 0, seen: [], connections: 0, close: async () => {} };
  server.on('session', (s) => {
    fake.connections++;
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => {
      if (headers[':method'] !== 'GET') fake.seen.push({ headers, body });
      behaviour(stream, headers, body);
    });
  });
  const port = await listen(server, 0, '127.0.0.1');
  fake.port = port;
  fake.url = `h2c://127.0.0.1:${port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sessions) s.destroy();
      server.close(() => resolve());
    });
  return fake;
}

/** A fake HTTP/1.1 upstream. */
export async function fakeH1Upstream(
  behaviour: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
): Promise<FakeUpstream> {
  const server = http.createServer();
  const sockets = new Set<net.Socket>();
  const fake: FakeUpstream = { url: '', port: 0, seen: [], connections: 0, close: async () => {} };
  server.on('connection', (s) => {
    fake.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('request', (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      if (req.method !== 'GET') fake.seen.push({ headers: req.headers, body });
      behaviour(req, res, body);
    });
  });
  const port = await listen(server, 0, '127.0.0.1');
  fake.port = port;
  fake.url = `http://127.0.0.1:${port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return fake;
}

/** A port with nothing listening on it (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = http.createServer();
  const port = await listen(s, 0, '127.0.0.1');
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
