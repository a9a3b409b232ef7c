import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFlags, UsageError } from '../../src/cli/args.js';
import { optionsFromFlags } from '../../src/cli/loadgen.js';
import { runCli } from '../helpers/spawn.js';

// The same flag table the command uses, for optionsFromFlags in-process.
const FLAG_NAMES = [
  'url',
  'developers',
  'duration-s',
  'requests',
  'mode',
  'rate',
  'protocol',
  'cancel',
  'debounce-ms',
  'accept-rate',
  'max-tokens',
  'engine',
  'corpus',
  'seed',
  'token',
  'key',
  'config',
  'uid',
  'iki-mean-ms',
  'iki-sd-ms',
  'iki-cv',
  'pause-prob',
  'line-pause-prob',
  'pause-ms',
  'drain-s',
  'report',
  'log',
] as const;

function options(argv: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof optionsFromFlags> {
  const spec = Object.fromEntries(FLAG_NAMES.map((n) => [n, { type: 'string' as const }]));
  const flags = parseFlags(argv, {
    ...spec,
    'stats-url': { type: 'string', multiple: true },
    insecure: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  return optionsFromFlags(flags, env);
}

describe('ghostwire loadgen flags', () => {
  test('--help exits 0 and names the defaults and their source', async () => {
    const res = await runCli(['loadgen', '--help']);
    assert.equal(res.code, 0);
    assert.match(res.stdout, /Usage: ghostwire loadgen/);
    assert.match(res.stdout, /--cancel C/);
    assert.match(res.stdout, /Dhakal/);
    const main = await runCli(['--help']);
    assert.match(main.stdout, /loadgen\s+simulated developers/);
  });

  test('unknown flags, bad values and contradictions exit 2 with the reason', async () => {
    for (const [argv, reason] of [
      [['--bogus'], /Unknown option '--bogus'/],
      [['--developers', '0'], /--developers expects an integer/],
      [['--protocol', 'h1', '--cancel', 'reset'], /HTTP\/1\.1 cannot reset/],
      [['--mode', 'rate'], /--mode rate needs --rate/],
      [['--rate', '5', '--mode', 'developers'], /--rate goes with --mode rate/],
      [['--token', 't'], /need --url/],
      [['--url', 'ftp://x'], /http:\/\/ or https:\/\//],
      [['--accept-rate', '2'], /--accept-rate expects a number from 0 to 1/],
      [['--corpus', '/nonexistent/dir'], /no such directory/],
      [['extra'], /unexpected argument/],
    ] as const) {
      const res = await runCli(['loadgen', ...argv]);
      assert.equal(res.code, 2, `${argv.join(' ')}: exit ${res.code}, ${res.stderr}`);
      assert.match(res.stderr, reason);
      assert.match(res.stderr, /ghostwire loadgen --help/);
    }
  });

  test('defaults: 100 developers for 20 s over h2, reset on the next key, debounce 75 ms', () => {
    const o = options([]);
    assert.equal(o.url, undefined);
    assert.deepEqual(
      [o.developers, o.durationS, o.protocol, o.cancel, o.debounceMs, o.mode, o.maxTokens, o.engine],
      [100, 20, 'h2', 'reset', 75, 'developers', 64, 'default'],
    );
    assert.equal(o.typing.ikiMeanMs, 238.66);
    assert.deepEqual(o.auth, { kind: 'none' });
    assert.ok(Object.isFrozen(o));
  });

  test('h1 cancels by closing; --rate implies rate mode; GHOSTWIRE_DEV_KEY is the key for a --url', () => {
    assert.equal(options(['--protocol', 'h1']).cancel, 'close');
    const rate = options(['--rate', '50']);
    assert.deepEqual([rate.mode, rate.rate], ['rate', 50]);
    assert.deepEqual(options(['--url', 'http://h:1'], { GHOSTWIRE_DEV_KEY: 'k' }).auth, {
      kind: 'key',
      key: 'k',
    });
    assert.deepEqual(
      options([], { GHOSTWIRE_DEV_KEY: 'k' }).auth,
      { kind: 'none' },
      'the embedded gateway has its own',
    );
    assert.deepEqual(options(['--url', 'http://h:1', '--config', 'c.yaml']).auth, {
      kind: 'config',
      file: 'c.yaml',
      uid: 'loadgen',
    });
    assert.throws(() => options(['--url', 'http://h:1', '--key', 'a', '--token', 'b']), UsageError);
    assert.equal(options(['--drain-s', '1.5']).drainMs, 1500);
  });
});
