import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Call } from '../../src/loadgen/call.js';
import type { Corpus } from '../../src/loadgen/corpus.js';
import { gpuReport } from '../../src/loadgen/gpu.js';
import { LOADGEN_DEFAULTS, type LoadgenOptions } from '../../src/loadgen/options.js';
import { Recorder } from '../../src/loadgen/recorder.js';
import { renderReport } from '../../src/loadgen/report-html.js';
import { buildResult, type LoadgenResult } from '../../src/loadgen/result.js';
import { renderTable } from '../../src/loadgen/table.js';
import type { SimulatorStats } from '../../src/simulator/index.js';

const OPTS: LoadgenOptions = {
  ...LOADGEN_DEFAULTS,
  url: 'http://127.0.0.1:8080',
  corpus: undefined,
  requests: undefined,
};
const CORPUS: Corpus = { root: '/x', files: [], bytes: 0 };

/** A recorder with a few of every outcome, spread over three seconds. */
function sampleRecorder(): Recorder {
  const start = performance.now() - 3000;
  const rec = new Recorder(start);
  let n = 0;
  const make = (at: number): Call => {
    const c = new Call(`id-${n++}`, n % 5, at - 75, (x) => rec.settled(x), at);
    rec.sentOne(c);
    return c;
  };
  for (let i = 0; i < 60; i++) {
    const c = make(start + i * 45);
    c.onResponse(200);
    c.onData('data: {"choices":[{"text":"x = 1","index":0,"finish_reason":null}]}\n\n');
    if (i % 3 === 0) {
      c.onData('data: [DONE]\n\n');
      c.onEnd();
    } else if (i % 3 === 1) c.cancel('reset');
    else {
      c.onData('data: {"error":{"code":"GW_UPSTREAM_CLOSED"}}\n\n');
    }
  }
  return rec;
}

function result(rec: Recorder, gpu = false): LoadgenResult {
  const stats = (cancelled: number, after: number): SimulatorStats => ({
    requests: 100 + cancelled,
    completed: 50,
    cancelled,
    tokens_generated: 1000 + after * 10,
    tokens_after_cancel: after,
    active: 0,
    queued: 0,
    peak_active: 0,
    peak_queued: 0,
    rejected: 0,
    errors: 0,
    prefix_cache_hits: 0,
    prefix_cache_misses: 0,
  });
  const url = 'http://127.0.0.1:9000/stats';
  return buildResult({
    opts: OPTS,
    target: 'http://127.0.0.1:8080',
    embedded: false,
    corpus: CORPUS,
    recorder: rec,
    sendingS: 3,
    elapsedS: 3.2,
    gpu: gpu
      ? gpuReport(
          [{ url, stats: stats(0, 0) }],
          [{ url, stats: stats(20, 3) }],
          rec.records
            .filter((r) => r.outcome === 'cancelled')
            .map((r) => ({
              request_id: r.id,
              at_ms: r.settledAtMs + 0.5,
              age_ms: r.settledAtMs - r.sentAtMs + 0.2,
            })),
          rec.records,
        )
      : undefined,
  });
}

test('the result counts each request once by outcome, and errors by code', () => {
  const r = result(sampleRecorder());
  assert.equal(r.requests, 60);
  assert.equal(r.completed, 20);
  assert.deepEqual(r.cancelled, { total: 20, reset: 20, close: 0 });
  assert.deepEqual(r.errors, { total: 20, by_code: { GW_UPSTREAM_CLOSED: 20 } });
  assert.equal(r.latency_ms.first_token.count, 60);
  assert.equal(r.latency_ms.completion.count, 20);
  assert.equal(r.latency_ms.at_pause?.count, 60);
  assert.equal(r.throughput.requests_per_s, 20);
  assert.ok(r.timeline.length >= 3);
  assert.equal(
    r.timeline.reduce((a, p) => a + p.requests, 0),
    60,
  );
});

test('the cancel join: client cancels found at the simulator by x-request-id, and how the two clocks agree', () => {
  const r = result(sampleRecorder(), true);
  const g = r.gpu;
  assert.ok(g !== null);
  assert.equal(g.client_cancels, 20);
  assert.equal(g.joined, 20);
  assert.equal(g.cancelled, 20);
  assert.equal(g.tokens_after_cancel, 3);
  assert.equal(g.cancel_to_upstream_ms.p50, 0.5);
  assert.equal(g.age_difference_ms.p50, 0.2);
  const table = renderTable(r);
  assert.match(table, /cancels seen by GPU\s+20\s+of 20 client cancels \(100\.0%\)/);
  assert.match(table, /errors\s+20\s+GW_UPSTREAM_CLOSED 20/);
});

test('the HTML report is self-contained: no URL of any server, no script, inline styles and charts', () => {
  const html = renderReport(result(sampleRecorder(), true), {
    ttft: [40, 41, 42, 43, 80, 300],
    completion: [500, 510, 520],
    atPause: [115, 116, 120, 400],
    cancelAge: [10, 20, 200],
  });
  assert.doesNotMatch(html, /https?:\/\//i, 'no http(s) URL anywhere (not even the target or an xmlns)');
  assert.doesNotMatch(html, /<script|<link|<img|@import|url\(/i);
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<style>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 6, 'four histograms and two timelines');
  assert.match(html, /127\.0\.0\.1:8080/, 'the target, without its scheme');
  assert.match(html, /Dhakal/);
});

test('a report of a run where nothing happened still renders', () => {
  const html = renderReport(result(new Recorder()), { ttft: [], completion: [], atPause: [], cancelAge: [] });
  assert.match(html, /no samples/);
  assert.doesNotMatch(html, /NaN|undefined|Infinity/);
});
