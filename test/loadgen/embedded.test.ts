// Pins down the first must-hold: `ghostwire loadgen` with no flags runs against the
// embedded default (simulator + gateway, started by itself) and prints a sensible summary in
// under 30 s. The test runs 5 s of typing to keep CI fast and checks that the rest of a run
// (start-up, drain, closing) leaves the default 20 s well inside the 30.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOADGEN_DEFAULTS } from '../../src/loadgen/options.js';
import { runCli } from '../helpers/spawn.js';

const TEST_DURATION_S = 5;
const MUST_FINISH_S = 30;

test('ghostwire loadgen with no target flags: exit 0, a summary with requests, completions, cancels and latency', async () => {
  const started = performance.now();
  const res = await runCli(['loadgen', '--duration-s', String(TEST_DURATION_S)], 30_000);
  const wallS = (performance.now() - started) / 1000;
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stderr, '', 'nothing on stderr, no progress line without a terminal');
  const out = res.stdout;
  assert.ok(
    !out.includes('\r') && !out.includes('\u001b['),
    'no terminal control characters in piped output',
  );
  assert.match(out, /100 developers typing/);
  assert.match(out, /\(embedded simulator \+ gateway\)/);
  const count = (label: string): number => {
    const m = new RegExp(`^  ${label}\\s+([\\d,]+)`, 'm').exec(out);
    assert.ok(m?.[1] !== undefined, `no "${label}" line in:\n${out}`);
    return Number(m[1].replace(/,/g, ''));
  };
  const requests = count('requests');
  assert.ok(requests > 100, `${requests} requests`);
  assert.ok(count('completed') > 0);
  assert.ok(count('cancelled by client') > 0);
  assert.equal(count('errors'), 0);
  const firstToken = /^ {2}first token\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)/m.exec(out);
  assert.ok(firstToken !== null, 'first-token latency row');
  assert.ok(Number(firstToken[1]) > 0 && Number(firstToken[1]) < 1000, `p50 ${firstToken[1]} ms`);
  assert.match(out, /^ {2}at the pause\s+[\d.]+/m);
  assert.match(out, /^ {2}tokens generated\s+[\d,]+/m, 'the embedded simulator is read automatically');
  assert.match(out, /^ {2}cancels seen by GPU\s+[\d,]+/m);

  // Everything but the typing itself (start-up, drain, closing) must leave room for the default.
  const overheadS = wallS - TEST_DURATION_S;
  assert.ok(
    LOADGEN_DEFAULTS.durationS + overheadS < MUST_FINISH_S,
    `a default run would take ~${(LOADGEN_DEFAULTS.durationS + overheadS).toFixed(1)} s (this one: ${wallS.toFixed(1)} s)`,
  );
  // And whatever happens, the hard stop (duration + drain) is inside the bound too.
  assert.ok(LOADGEN_DEFAULTS.durationS + LOADGEN_DEFAULTS.drainMs / 1000 < MUST_FINISH_S - 2);
});
