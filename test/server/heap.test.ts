// Pins down the serving heap: modules a gateway does not use (undici, ioredis, jose, zod and the
// config schema, the YAML parser, the simulator) must stay out of the `serve` process, because
// every full GC marks the whole heap again for as long as the gateway runs. Measured before they
// were loaded on demand: 16.6 MB after start-up instead of 5.7 MB, which cost ~14% more CPU per
// proxied request and several ms of p99 through longer mark-compact pauses.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const MAIN = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js')).href;

/** Heap in use after two full GCs, in a fresh process that ran `setup` first (ES module code). */
async function heapAfter(setup: string): Promise<number> {
  const script = `${setup}
globalThis.gc(); globalThis.gc();
process.stdout.write('HEAP ' + process.memoryUsage().heapUsed + '\\n');
process.exit(0);`;
  const { stdout } = await exec(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    env: { ...process.env, GHOSTWIRE_DEV_KEY: 'gw_heap_test_dev_key_0123456789' },
    timeout: 30_000,
  });
  const m = /HEAP (\d+)/.exec(stdout);
  assert.ok(m?.[1] !== undefined, `no heap reading in: ${stdout}`);
  return Number(m[1]);
}

describe('serving heap', () => {
  it('serve --upstream h2c:// adds less than 4 MB to a bare Node process with node:http2 loaded', async () => {
    const bare = await heapAfter(
      `await import('node:http2'); await import('node:http'); await import('node:tls');`,
    );
    const serving = await heapAfter(`
import { Writable } from 'node:stream';
const { main } = await import(${JSON.stringify(MAIN)});
await new Promise((resolve) => {
  const out = new Writable({ write(chunk, _enc, cb) { if (String(chunk).includes('listening on')) resolve(); cb(); } });
  void main(['serve', '--port', '0', '--upstream', 'h2c://127.0.0.1:9'], out);
});`);
    const addedMiB = (serving - bare) / 2 ** 20;
    assert.ok(
      addedMiB < 4,
      `the gateway adds ${addedMiB.toFixed(1)} MiB of heap (bare ${(bare / 2 ** 20).toFixed(1)} MiB)`,
    );
  });
});
