// Pins down the AsyncResource.bind replacement `ghostwire serve` installs (node-workarounds.ts):
// same behaviour as Node's own bind, minus the deprecated `asyncResource` accessor. It runs in a
// child process so the test runner's own process is left as Node made it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const MODULE = pathToFileURL(
  join(dirname(fileURLToPath(import.meta.url)), '../../src/server/node-workarounds.js'),
).href;

const CHILD = `
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import http2 from 'node:http2';
const { skipDeprecatedBindAccessor } = await import(${JSON.stringify(MODULE)});
const out = {};
out.first = skipDeprecatedBindAccessor();
out.second = skipDeprecatedBindAccessor();
const als = new AsyncLocalStorage();
let bound, boundThis;
als.run('the-store', () => {
  const r = new AsyncResource('test');
  bound = r.bind(function (a, b) { return [als.getStore(), this, a + b]; });
  boundThis = r.bind(function () { return this; }, 'fixed');
});
const [store, self, sum] = bound.call('caller', 2, 3);
out.store = store;
out.self = self;
out.sum = sum;
out.fixedThis = boundThis.call('ignored');
out.accessor = Object.getOwnPropertyDescriptor(bound, 'asyncResource') !== undefined;
try { new AsyncResource('x').bind(42); out.threw = false; } catch (e) { out.threw = e.code; }
// node:http2's client still works with it (request() binds through it).
const server = http2.createServer((req, res) => res.end('ok'));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const session = http2.connect('http://127.0.0.1:' + server.address().port);
out.http2 = await new Promise((resolve, reject) => {
  const req = session.request({ ':path': '/' });
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c) => (body += c));
  req.on('end', () => resolve(body));
  req.on('error', reject);
});
session.close();
server.close();
process.stdout.write(JSON.stringify(out));
`;

describe('AsyncResource.bind without the deprecated accessor', () => {
  it('is applied once, keeps async context, this, arguments and errors, and node:http2 works', async () => {
    const { stdout, stderr } = await exec(process.execPath, ['--input-type=module', '-e', CHILD], {
      timeout: 20_000,
    });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(out.first, true, 'applied on a Node that has the deprecated accessor');
    assert.equal(out.second, false, 'not applied twice');
    assert.equal(out.store, 'the-store', 'the bound function runs in the async context it was bound in');
    assert.equal(out.self, 'caller', "without thisArg, the call's own this");
    assert.equal(out.sum, 5);
    assert.equal(out.fixedThis, 'fixed', 'with thisArg, that one');
    assert.equal(out.accessor, false);
    assert.equal(out.threw, 'ERR_INVALID_ARG_TYPE', "Node's own error for a non-function");
    assert.equal(out.http2, 'ok');
    assert.doesNotMatch(stderr, /DEP0172/);
  });
});
