// Small real-socket clients for the simulator tests: node:http2 (h2c prior knowledge) and node:http.
import http from 'node:http';
import http2 from 'node:http2';

export interface CompletionChunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: { text: string; index: number; finish_reason: string | null; logprobs: null }[];
}

/** Splits an SSE body into completion chunks; `done` says whether `data: [DONE]` closed it. */
export function parseSse(body: string): { chunks: CompletionChunk[]; done: boolean; events: string[] } {
  const events = body.split('\n\n').filter((e) => e.length > 0);
  const chunks: CompletionChunk[] = [];
  let done = false;
  for (const event of events) {
    if (!event.startsWith('data: ')) throw new Error(`not an SSE data event: ${JSON.stringify(event)}`);
    const data = event.slice('data: '.length);
    if (data === '[DONE]') {
      done = true;
      continue;
    }
    if (done) throw new Error('event after [DONE]');
    chunks.push(JSON.parse(data) as CompletionChunk);
  }
  return { chunks, done, events };
}

/** The streamed text of one choice. */
export function textOf(chunks: readonly CompletionChunk[], index = 0): string {
  return chunks
    .flatMap((c) => c.choices)
    .filter((c) => c.index === index)
    .map((c) => c.text)
    .join('');
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RequestSpec {
  method?: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

function encodeBody(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  return typeof body === 'string' ? body : JSON.stringify(body);
}

/** Opens one h2 stream and returns it (for tests that reset it). */
export function h2Open(session: http2.ClientHttp2Session, spec: RequestSpec): http2.ClientHttp2Stream {
  const stream = session.request({
    ':method': spec.method ?? 'POST',
    ':path': spec.path,
    'content-type': 'application/json',
    ...spec.headers,
  });
  stream.setEncoding('utf8');
  stream.on('error', () => {}); // resets are expected in these tests; outcomes are asserted via rstCode
  stream.end(encodeBody(spec.body));
  return stream;
}

/** One whole h2 exchange; resolves when the stream closes (rstCode is set if it was reset). */
export function h2Request(
  session: http2.ClientHttp2Session,
  spec: RequestSpec,
): Promise<Reply & { rstCode: number | undefined }> {
  const stream = h2Open(session, spec);
  let status = 0;
  let headers: Record<string, string | string[] | undefined> = {};
  let body = '';
  stream.on('response', (h) => {
    status = Number(h[':status']);
    headers = { ...h };
  });
  stream.on('data', (d: string) => {
    body += d;
  });
  return new Promise((resolve) => {
    stream.on('close', () => {
      resolve({ status, headers, body, rstCode: stream.rstCode === 0 ? undefined : stream.rstCode });
    });
  });
}

/** One whole HTTP/1.1 exchange on its own connection. Rejects if the connection breaks. */
export function h1Request(url: string, spec: RequestSpec): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = h1Open(url, spec, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Starts an HTTP/1.1 request on a fresh connection (agent: false), for tests that close it. */
export function h1Open(
  url: string,
  spec: RequestSpec,
  onResponse: (res: http.IncomingMessage) => void,
): http.ClientRequest {
  const payload = encodeBody(spec.body);
  const req = http.request(
    `${url}${spec.path}`,
    {
      method: spec.method ?? 'POST',
      agent: false,
      headers: {
        'content-type': 'application/json',
        ...(payload === undefined ? {} : { 'content-length': String(Buffer.byteLength(payload)) }),
        ...spec.headers,
      },
    },
    onResponse,
  );
  req.end(payload);
  return req;
}

/** Resolves once `stream` has delivered text for which `predicate` holds; returns that text. */
export function h2ReadUntil(
  stream: http2.ClientHttp2Stream,
  predicate: (text: string) => boolean,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: string): void => {
      text += d;
      if (predicate(text)) {
        stream.off('data', onData);
        resolve(text);
      }
    };
    stream.on('data', onData);
    stream.once('close', () =>
      reject(new Error(`stream closed before the expected data; got ${JSON.stringify(text)}`)),
    );
  });
}

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Connects an h2c prior-knowledge session and waits until it is ready. */
export async function connectH2(url: string): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(url);
  session.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  return session;
}

export const PATTERN_PROMPT = 'const x1 = 1;\nconst x2 = 2;\nconst x';
