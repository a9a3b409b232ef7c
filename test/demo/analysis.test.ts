import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyse, type RunLog } from '../../src/demo/analysis.js';
import type { RequestRecord } from '../../src/demo/protocol.js';
import { renderResult } from '../../src/demo/table.js';
import type { DemoResult } from '../../src/demo/regions.js';

const EXPECT = { maxMoveMs: 1000, minSharePct: 99 };
const KILL = 4000;
const RESTART = 7000;

/**
 * A made-up run that does what the demo expects: r1's users at home, then (simulators killed at
 * 4 s) served by r2 after 150 ms with only the streams in flight cut, then home again 300 ms after
 * the restart at 7 s. `tweak` changes single requests to make it go wrong.
 */
function run(tweak: (r: RequestRecord) => RequestRecord = (r) => r): RunLog {
  const records: RequestRecord[] = [];
  let seq = 0;
  for (let t = 0; t < 10_000; t += 20) {
    records.push(
      tweak({
        region: 'r2',
        seq: ++seq,
        startAt: t,
        firstByteAt: t + 50,
        endAt: t + 100,
        status: 200,
        outcome: 'ok',
        servedBy: 'bbb',
      }),
    );
    const base = { region: 'r1', seq: ++seq, startAt: t, status: 200 };
    let r: RequestRecord;
    if (t + 100 < KILL) r = { ...base, firstByteAt: t + 50, endAt: t + 100, outcome: 'ok', servedBy: 'aaa' };
    else if (t < KILL && t + 50 < KILL)
      r = {
        ...base,
        firstByteAt: t + 50,
        endAt: KILL + 2,
        outcome: 'cut',
        servedBy: 'aaa',
        error: 'GW_UPSTREAM_CLOSED',
      };
    else if (t < KILL + 60)
      // In flight without a byte, or sent before the gateway knew: retried in r2.
      r = { ...base, firstByteAt: KILL + 150, endAt: KILL + 200, outcome: 'ok', servedBy: 'bbb' };
    else if (t < RESTART + 300)
      r = { ...base, firstByteAt: t + 90, endAt: t + 140, outcome: 'ok', servedBy: 'bbb' };
    else r = { ...base, firstByteAt: t + 50, endAt: t + 100, outcome: 'ok', servedBy: 'ccc' };
    records.push(tweak(r));
  }
  return {
    regions: ['r1', 'r2'],
    preference: { r1: ['r1', 'r2'], r2: ['r2', 'r1'] },
    failedRegion: 'r1',
    records,
    identities: {
      aaa: { simulator: 'r1-sim-a', region: 'r1' },
      bbb: { simulator: 'r2-sim-a', region: 'r2' },
      ccc: { simulator: 'r1-sim-a', region: 'r1' },
    },
    readyz: [
      { region: 'r1', at: 0, status: 200 },
      { region: 'r1', at: KILL + 600, status: 503, code: 'GW_NO_HEALTHY_UPSTREAM' },
      { region: 'r1', at: RESTART + 400, status: 200 },
      { region: 'r2', at: 0, status: 200 },
    ],
    stats: [
      { region: 'r1', simulator: 'r1-sim-a', at: 500, requests: 10 },
      { region: 'r1', simulator: 'r1-sim-a', at: 3900, requests: 160 },
      { region: 'r1', simulator: 'r1-sim-a', at: RESTART + 100, requests: 1 }, // restarted: counts from 0
      { region: 'r1', simulator: 'r1-sim-a', at: 9000, requests: 90 },
    ],
    steadyAt: 1000,
    killAt: KILL,
    restartAt: RESTART,
    endAt: 10_000,
  };
}

function failures(log: RunLog): string[] {
  return analyse(log, EXPECT)
    .checks.filter((c) => !c.ok)
    .map((c) => c.what);
}

describe('demo analysis', () => {
  it('a run that does what the issue asks passes, with the numbers it saw', () => {
    const a = analyse(run(), EXPECT);
    assert.deepEqual(failures(run()), []);
    assert.equal(a.ok, true);
    assert.equal(a.failover.moveMs, 150);
    assert.equal(a.failover.nextRegion, 'r2');
    assert.equal(a.failover.nextRegionPct, 100);
    assert.equal(a.failover.notReadyMs, 600);
    assert.equal(a.failover.notReadyCode, 'GW_NO_HEALTHY_UPSTREAM');
    assert.equal(a.recovery.returnMs, 350);
    assert.equal(a.recovery.readyMs, 400);
    const [steady, down, back] = a.phases;
    assert.deepEqual(
      steady?.users.map((u) => [u.region, u.sharePct]),
      [
        ['r1', { r1: 100, r2: 0 }],
        ['r2', { r1: 0, r2: 100 }],
      ],
    );
    // The streams in flight at the kill end in the down phase, where they count as cut.
    const r1down = down?.users[0];
    assert.equal(r1down?.cutMidStream, 3);
    assert.equal(a.failover.inFlightAtKill, 5); // the other two had no byte yet: retried in r2
    assert.deepEqual(r1down?.cutErrors, { GW_UPSTREAM_CLOSED: r1down?.cutMidStream });
    assert.equal(r1down?.failedBeforeStreaming, 0);
    assert.equal(back?.users[1]?.sharePct.r2, 100);
    // /stats: a counter that drops was restarted, and counts from zero.
    assert.deepEqual(steady?.simulatorRequests, { r1: 150, r2: 0 });
    assert.deepEqual(back?.simulatorRequests, { r1: 90, r2: 0 });
  });

  it('one request that failed before streaming fails the run, naming its error', () => {
    const log = run((r) =>
      r.region === 'r1' && r.startAt === KILL + 20
        ? {
            region: 'r1',
            seq: r.seq,
            startAt: r.startAt,
            endAt: r.startAt + 5,
            status: 502,
            outcome: 'failed',
            error: 'GW_UPSTREAM_UNAVAILABLE',
          }
        : r,
    );
    assert.deepEqual(failures(log), [
      "r1's users: 1 request(s) failed before streaming (expected 0) [GW_UPSTREAM_UNAVAILABLE ×1]",
    ]);
  });

  it('a slow move, a user kept waiting, a spill to the wrong region and a /readyz that never flips each fail', () => {
    const slow = run((r) =>
      r.region === 'r1' && r.servedBy === 'bbb' && r.firstByteAt !== undefined && r.firstByteAt < KILL + 1500
        ? { ...r, firstByteAt: KILL + 1500, endAt: KILL + 1550 }
        : r,
    );
    assert.deepEqual(
      failures(slow).map((f) => f.replace(/[\d.]+ ms/, 'N ms')),
      [
        "r1's users served by another region N ms after the kill (expected ≤ 1000 ms)",
        "r1's users waited at most N ms for a first byte after the kill (expected ≤ 1000 ms)",
      ],
    );
    const log = run();
    log.regions.push('r3');
    log.preference = { r1: ['r1', 'r3', 'r2'], r2: ['r2', 'r1', 'r3'], r3: ['r3', 'r1', 'r2'] };
    log.readyz = log.readyz.filter((e) => e.status !== 503);
    const f = failures(log);
    assert.ok(f.includes("r1's users moved to the next region, r3: 0% (expected ≥ 99%)"), f.join('\n'));
    assert.ok(f.includes("r1's /readyz never answered 503 while its simulators were down"), f.join('\n'));
    assert.ok(f.includes("r3's users sent no request that ended in this phase"), f.join('\n'));
  });

  it('users served away from home in the steady phase fail it; the table says why', () => {
    const log = run((r) =>
      r.region === 'r2' && r.startAt > 2000 && r.startAt < 2200 ? { ...r, servedBy: 'aaa' } : r,
    );
    const a = analyse(log, EXPECT);
    assert.equal(a.ok, false);
    const result: DemoResult = {
      ...a,
      regions: ['r1', 'r2'],
      namespaces: [],
      delayMode: 'relay',
      inRegionRttMs: 2,
      links: [{ a: 'r1', b: 'r2', rttMs: 40 }],
      ratePerRegionPerS: 50,
      phaseMs: 3000,
      simsPerRegion: 1,
      maxMoveMs: 1000,
    };
    const text = renderResult(result);
    assert.match(
      text,
      /^phase\s+users\s+requests\s+in r1\s+in r2\s+failed before streaming\s+cut mid-stream/,
    );
    assert.match(text, /^r1 down\s+r1\s+\d+\s+0%\s+100%\s+0\s+\d+\s+150 ms\s+503 after 600 ms$/m);
    assert.match(text, /^FAIL \(steady\): r2's users served in r2: 93\.\d% \(expected ≥ 99%\)$/m);
  });
});
