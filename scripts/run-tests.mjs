// Finds every compiled *.test.js under dist/test and dist/bench and hands them to node's test runner.
// (Node 20 takes no globs on --test; Node 22+ treats arguments as globs. Explicit files work on both.)
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
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

// The revocation tests need a real redis-server (they start their own on a free port). On a
// fresh Debian machine where we are root, install it so `npm test` works as the README says;
// elsewhere say once, up front, what to install.
function hasBinary(name) {
  return [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/sbin'].some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
if (!hasBinary('redis-server')) {
  if (process.getuid?.() === 0 && hasBinary('apt-get')) {
    console.error(
      'run-tests: redis-server is missing; installing it with apt-get (the tests start their own)',
    );
    const opts = {
      stdio: 'inherit',
      timeout: 300_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    };
    spawnSync('apt-get', ['update', '-qq'], opts);
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'redis-server'], opts);
    // The package may start a system Redis on 6379; the tests never use it.
    spawnSync('service', ['redis-server', 'stop'], { stdio: 'ignore', timeout: 30_000 });
  } else {
    console.error(
      'run-tests: redis-server is not installed; the revocation tests will fail. Install it (Debian: apt-get install redis-server).',
    );
  }
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
