// Stream framings parsed the way real clients parse them, strictly enough to catch a framing slip.

/** One SSE event: its data (lines joined) and the exact text of its first line. */
export interface SseEvent {
  data: string;
  line: string;
}

/**
 * Splits an SSE body as EventSource does: events end at a blank line, `data` lines are joined with
 * '\n', and one space after the colon is dropped. Anything but a data line fails: these servers send
 * nothing else. The body must end at an event boundary.
 */
export function sseEvents(body: string): SseEvent[] {
  if (body.length > 0 && !body.endsWith('\n\n'))
    throw new Error(`stream ends mid-event: ${JSON.stringify(body.slice(-60))}`);
  const events: SseEvent[] = [];
  for (const block of body.split('\n\n')) {
    if (block.length === 0) continue;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (!line.startsWith('data:')) throw new Error(`not an SSE data line: ${JSON.stringify(line)}`);
      const value = line.slice('data:'.length);
      data.push(value.startsWith(' ') ? value.slice(1) : value);
    }
    events.push({ data: data.join('\n'), line: block.split('\n')[0] ?? '' });
  }
  return events;
}

/** Parses an NDJSON body: one JSON value per line, every line (the last included) ends with '\n'. */
export function ndjsonLines(body: string): unknown[] {
  if (body.length > 0 && !body.endsWith('\n')) throw new Error('NDJSON body must end with a newline');
  return body
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as unknown);
}

/** A JSON object's field, for tests that walk loosely typed wire objects. */
export function field(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}
