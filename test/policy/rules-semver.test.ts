// Pins down the version ranges of rewrite rules (issue 7, item 1): npm's range syntax with npm's
// meaning under includePrerelease, checked against npm's own semver package; and client versions
// that cannot be read never throw and never match.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  parseProductSpec,
  parseUserAgent,
  productMatches,
  parseProduct,
} from '../../src/policy/rules/product.js';
import { compareVersions, parseRange, parseVersion, satisfies } from '../../src/policy/rules/semver.js';

/** npm's semver (a dev dependency: the reference, never loaded by the gateway). */
const npmSemver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string, options: { includePrerelease: boolean }): boolean;
  compare(a: string, b: string): number;
  validRange(range: string): string | null;
};

function ok(range: string, version: string): boolean {
  const r = parseRange(range);
  assert.ok(r.ok, `${range}: ${r.ok ? '' : r.error}`);
  const v = parseVersion(version);
  return v !== undefined && satisfies(v, r.range);
}

describe('semver ranges', () => {
  const table: [range: string, yes: string[], no: string[]][] = [
    ['<1.200.0', ['1.199.9', '0.1.0', '1.200.0-beta'], ['1.200.0', '1.250.0', '2.0.0']],
    ['<1.200', ['1.199.99'], ['1.200.0-0', '1.200.0-beta', '1.200.0']],
    ['<=1.2', ['1.2.99', '1.2.0-rc.1'], ['1.3.0-0', '1.3.0']],
    ['>1.2', ['1.3.0', '1.3.0-0'], ['1.2.99', '1.2.0']],
    ['>=1.2 <2', ['1.2.0', '1.2.0-0', '1.99.0'], ['1.1.9', '2.0.0-0', '2.0.0']],
    ['^1.2.3', ['1.2.3', '1.9.0'], ['1.2.2', '2.0.0', '2.0.0-alpha']],
    ['^0.2.3', ['0.2.3', '0.2.9'], ['0.3.0', '0.2.2']],
    ['^0.0.3', ['0.0.3'], ['0.0.4', '0.0.2']],
    ['^1.2.3-beta.2', ['1.2.3-beta.2', '1.2.3-beta.10', '1.2.3'], ['1.2.3-beta.1', '1.2.3-alpha']],
    ['~1.2', ['1.2.0', '1.2.9'], ['1.3.0', '1.1.9']],
    ['~1.2.3', ['1.2.3', '1.2.9'], ['1.3.0', '1.2.2']],
    ['1.x', ['1.0.0', '1.99.99'], ['2.0.0', '0.9.0']],
    ['1.2.x', ['1.2.0', '1.2.7'], ['1.3.0']],
    ['1.2.3', ['1.2.3', '1.2.3+build.5'], ['1.2.4', '1.2.3-rc.1']],
    ['*', ['0.0.0', '9.9.9', '1.0.0-alpha'], []],
    ['', ['3.1.4'], []],
    ['<1.0.0 || >=2.0.0', ['0.9.0', '2.0.0'], ['1.0.0', '1.9.9']],
    ['1.2.3 - 1.4', ['1.2.3', '1.4.99'], ['1.2.2', '1.5.0']],
    ['>= 1.2.3 < 1.3', ['1.2.3'], ['1.3.0']],
    ['>*', [], ['0.0.0', '1.0.0']],
  ];
  for (const [range, yes, no] of table)
    it(`"${range}"`, () => {
      for (const v of yes) assert.ok(ok(range, v), `${v} should be in ${range}`);
      for (const v of no) assert.ok(!ok(range, v), `${v} should not be in ${range}`);
    });

  it('malformed ranges are config errors naming the part, never a crash', () => {
    for (const bad of [
      '1.x.3',
      '>=abc',
      '^^1',
      '1.2.3 -',
      '>=1.2 - 2',
      'x.1',
      '1.2-beta',
      '1..2',
      'a'.repeat(300),
    ]) {
      const r = parseRange(bad);
      assert.equal(r.ok, false, bad);
    }
  });

  it('prereleases compare by semver precedence; a release is above its prereleases', () => {
    const order = [
      '1.0.0-0',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
    ];
    for (let i = 0; i + 1 < order.length; i++) {
      const a = parseVersion(order[i] as string);
      const b = parseVersion(order[i + 1] as string);
      assert.ok(a !== undefined && b !== undefined);
      assert.ok(compareVersions(a, b) < 0, `${order[i]} < ${order[i + 1]}`);
      assert.ok(compareVersions(b, a) > 0);
    }
  });
});

describe('client versions', () => {
  it('are read leniently: 1.95, v1.2.3, 4-part Visual Studio versions, JetBrains builds', () => {
    assert.deepEqual(parseVersion('1.95'), { major: 1, minor: 95, patch: 0, pre: [] });
    assert.deepEqual(parseVersion('v1.2.3'), { major: 1, minor: 2, patch: 3, pre: [] });
    assert.deepEqual(parseVersion('17.12.35506.116'), { major: 17, minor: 12, patch: 35506, pre: [] });
    assert.deepEqual(parseVersion('241.14494.240'), { major: 241, minor: 14494, patch: 240, pre: [] });
    assert.deepEqual(parseVersion('1.96.0-insider'), { major: 1, minor: 96, patch: 0, pre: ['insider'] });
  });

  it('that cannot be read are undefined and match no range: never an exception', () => {
    for (const bad of [
      '',
      'latest',
      '1.2.3.4.5',
      '1.-2',
      '1.2.3-',
      '1.2.3-a..b',
      '１.２.３',
      '9'.repeat(20),
      `1.${'0'.repeat(70)}`,
    ])
      assert.equal(parseVersion(bad), undefined, bad);
    const range = parseRange('*');
    assert.ok(range.ok);
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const v = parseVersion(s);
        if (v !== undefined) satisfies(v, range.range);
        parseProduct(s);
        parseUserAgent(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('agree with npm semver (includePrerelease) on every generated range and version', () => {
    const num = fc.integer({ min: 0, max: 4 });
    const pre = fc.oneof(
      fc.constant(''),
      fc.constantFrom('-0', '-alpha', '-alpha.1', '-beta.2', '-1', '-rc.1.x'),
    );
    const full = fc.tuple(num, num, num, pre).map(([a, b, c, p]) => `${a}.${b}.${c}${p}`);
    const xr = fc.constantFrom('x', '*', 'X');
    const partial = fc.oneof(
      full,
      fc.tuple(num, num).map(([a, b]) => `${a}.${b}`),
      num.map(String),
      fc.tuple(num, num, xr).map(([a, b, x]) => `${a}.${b}.${x}`),
      fc.tuple(num, xr).map(([a, x]) => `${a}.${x}`),
      xr,
    );
    const op = fc.constantFrom('', '=', '<', '<=', '>', '>=', '~', '^');
    const comparator = fc.tuple(op, partial).map(([o, p]) => `${o}${p}`);
    const set = fc.oneof(
      fc.array(comparator, { minLength: 1, maxLength: 3 }).map((cs) => cs.join(' ')),
      fc.tuple(partial, partial).map(([a, b]) => `${a} - ${b}`),
    );
    const range = fc.array(set, { minLength: 1, maxLength: 3 }).map((sets) => sets.join(' || '));
    fc.assert(
      fc.property(range, full, (r, v) => {
        if (npmSemver.validRange(r) === null) return; // npm refuses it too (e.g. x.1)
        const parsed = parseRange(r);
        assert.ok(parsed.ok, `${r}: ${parsed.ok ? '' : parsed.error}`);
        const version = parseVersion(v);
        assert.ok(version !== undefined);
        assert.equal(
          satisfies(version, parsed.range),
          npmSemver.satisfies(v, r, { includePrerelease: true }),
          `${v} in "${r}"`,
        );
      }),
      { numRuns: 5000 },
    );
  });

  it('compare as npm semver compares', () => {
    const id = fc.oneof(
      fc.integer({ min: 0, max: 20 }).map(String),
      fc.constantFrom('alpha', 'beta', 'rc', 'a1', 'B'),
    );
    const version = fc
      .tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.array(id, { maxLength: 3 }))
      .map(([a, b, c, p]) => `${a}.${b}.${c}${p.length > 0 ? `-${p.join('.')}` : ''}`);
    fc.assert(
      fc.property(version, version, (a, b) => {
        const x = parseVersion(a);
        const y = parseVersion(b);
        assert.ok(x !== undefined && y !== undefined);
        assert.equal(Math.sign(compareVersions(x, y)), npmSemver.compare(a, b), `${a} vs ${b}`);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('editor and plugin specs', () => {
  const spec = (s: string) => {
    const p = parseProductSpec(s);
    assert.ok(typeof p !== 'string', typeof p === 'string' ? p : '');
    return p;
  };
  it('match by case-insensitive name and range; a name alone matches any version, even an unreadable one', () => {
    const old = spec('copilot <1.200.0');
    assert.ok(productMatches(old, parseProduct('copilot/1.150.3') as never));
    assert.ok(productMatches(old, parseProduct('Copilot/1.199.0') as never));
    assert.ok(!productMatches(old, parseProduct('copilot/1.250.0') as never));
    assert.ok(!productMatches(old, parseProduct('copilot-chat/0.1.0') as never), 'another plugin');
    assert.ok(
      !productMatches(old, parseProduct('copilot/nightly') as never),
      'an unreadable version is in no range',
    );
    assert.ok(productMatches(spec('copilot'), parseProduct('copilot/nightly') as never));
    assert.ok(productMatches(spec('* >=2'), parseProduct('neovim/2.1.0') as never));
    assert.equal(parseProduct('no-slash'), undefined);
  });
  it('refuse what is not "<name> [<range>]"', () => {
    for (const bad of ['', 'copilot >=abc', 'co pilot <1 <<2', 'cop*lot', '/1.0'])
      assert.equal(typeof parseProductSpec(bad), 'string', bad);
  });
  it('User-Agent products are every name/version outside comments', () => {
    const ua = parseUserAgent('GithubCopilot/1.250.0 (linux; x64/5.1) node/20.18.1 Electron (x/1)');
    assert.deepEqual(
      ua.map((p) => p.name),
      ['githubcopilot', 'node'],
    );
    assert.equal(ua[1]?.version?.major, 20);
  });
});
