// Finds every compiled *.test.js under dist/test and dist/bench and hands them to node's test runner.
// (Node 20 takes no globs on --test; Node 22+ treats arguments as globs. Explicit files work on both.)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = ['dist/test', 'dist/bench']
  .flatMap((dir) => find(dir, []))
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-timeout=60000', ...files],
  { stdio: 'inherit' },
);
process.exit(res.status ?? 1);
