import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { startSimulator, type Simulator, type SimulatorStats } from '../../src/simulator/index.js';
import { connectH2, h1Request, h2Request } from './helpers.js';

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

describe('simulator routes', () => {
  let sim: Simulator;
  let session: http2.ClientHttp2Session;
  before(async () => {
    sim = await startSimulator({ ttftMs: 0, tokenMs: 0 });
    session = await connectH2(sim.url);
  });
  after(async () => {
    session.close();
    await sim.close();
  });

  test('GET /healthz answers {"status":"ok"} on both protocols', async () => {
    for (const res of [
      await h2Request(session, { method: 'GET', path: '/healthz' }),
      await h1Request(sim.url, { method: 'GET', path: '/healthz' }),
    ]) {
      assert.equal(res.status, 200);
      assert.equal(res.body, '{"status":"ok"}');
    }
  });

  test('GET /stats serves the counters over HTTP; POST /stats/reset zeroes them', async () => {
    sim.resetStats();
    await h1Request(sim.url, { path: '/v1/completions', body: { prompt: 'x', max_tokens: 4 } });
    const res = await h1Request(sim.url, { method: 'GET', path: '/stats' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    const stats = JSON.parse(res.body) as SimulatorStats;
    assert.deepEqual(stats, {
      requests: 1,
      completed: 1,
      cancelled: 0,
      tokens_generated: 4,
      tokens_after_cancel: 0,
      active: 0,
      queued: 0,
      peak_active: 1,
      peak_queued: 0,
      rejected: 0,
      errors: 0,
      prefix_cache_hits: 0,
      prefix_cache_misses: 1,
      cancel_age_ms: { count: 0, p50: null, p90: null, p99: null, max: null },
    });
    assert.deepEqual(stats, sim.stats());
    const reset = await h2Request(session, { method: 'POST', path: '/stats/reset' });
    assert.equal(reset.status, 200);
    assert.equal(sim.stats().requests, 0);
    assert.equal(sim.stats().tokens_generated, 0);
    assert.equal(sim.stats().peak_active, 0, 'peaks restart from the current (idle) level');
    assert.equal(sim.stats().prefix_cache_misses, 0);
  });

  test('bad JSON is a 400 invalid_request_error', async () => {
    sim.resetStats();
    const res = await h2Request(session, { path: '/v1/completions', body: '{"prompt": "x",' });
    assert.equal(res.status, 400);
    assert.equal(res.headers['content-type'], 'application/json');
    const body = JSON.parse(res.body) as ErrorBody;
    assert.deepEqual(Object.keys(body), ['error']);
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /JSON/);
    assert.equal(sim.stats().errors, 1);
  });

  test('a known field of the wrong type is a 400 naming the field; unknown fields are ignored', async () => {
    const bad = await h2Request(session, {
      path: '/v1/completions',
      body: { prompt: 'x', max_tokens: 'many' },
    });
    assert.equal(bad.status, 400);
    assert.equal((JSON.parse(bad.body) as ErrorBody).error.param, 'max_tokens');

    const extra = await h2Request(session, {
      path: '/v1/engines/copilot-codex/completions',
      body: { prompt: 'x', max_tokens: 2, top_p: 1, nwo: 'o/r', extra: { language: 'go', next_indent: 0 } },
    });
    assert.equal(extra.status, 200);
  });

  test('an unknown route is a 404 JSON error; a wrong method is a 405', async () => {
    const missing = await h1Request(sim.url, { method: 'GET', path: '/v1/nope' });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['content-type'], 'application/json');
    assert.equal((JSON.parse(missing.body) as ErrorBody).error.type, 'invalid_request_error');

    const wrong = await h2Request(session, { method: 'GET', path: '/v1/completions' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'POST');
  });

  test('lastRequest() shows what crossed the wire, auth verbatim; responses never echo it', async () => {
    const res = await h2Request(session, {
      path: '/v1/engines/gpt-41-copilot/completions?x=1',
      headers: { authorization: 'Bearer upstream-key', 'api-key': 'azure-key', 'x-request-id': 'r-1' },
      body: { prompt: 'p', max_tokens: 1, stop: ['\n'] },
    });
    assert.equal(res.status, 200);
    const last = sim.lastRequest();
    assert.equal(last?.path, '/v1/engines/gpt-41-copilot/completions');
    assert.equal(last.headers.authorization, 'Bearer upstream-key');
    assert.equal(last.headers['api-key'], 'azure-key');
    assert.equal(last.headers['x-request-id'], 'r-1');
    assert.equal(last.headers[':path'], undefined, 'no pseudo-headers');
    assert.deepEqual(last.body, { prompt: 'p', max_tokens: 1, stop: ['\n'] });
    const wire = JSON.stringify(res.headers) + res.body;
    for (const secret of ['upstream-key', 'azure-key', 'r-1']) assert.ok(!wire.includes(secret), secret);
  });

  test('the h2 server allows at least 1000 concurrent streams per session', () => {
    assert.ok((session.remoteSettings.maxConcurrentStreams ?? 0) >= 1000);
  });
});

test('startSimulator refuses invalid options, naming each field', async () => {
  const opts = {
    slots: 0,
    tokenMs: -1,
    tokensPerSecond: 5,
    prefixCacheEntries: -1,
    prefixChars: 0,
    cachedTtftMs: Number.NaN,
  } as Parameters<typeof startSimulator>[0];
  await assert.rejects(startSimulator(opts), (err: Error) => {
    assert.match(err.message, /slots/);
    assert.match(err.message, /tokenMs/);
    assert.match(err.message, /prefixCacheEntries/);
    assert.match(err.message, /prefixChars/);
    assert.match(err.message, /cachedTtftMs/);
    assert.match(err.message, /tokensPerSecond: unknown option/);
    return true;
  });
});
