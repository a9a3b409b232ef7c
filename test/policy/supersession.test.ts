// Pins down supersession (issue 7, item 3): a new request with the same key ends the older one
// still in flight — its client gets a `superseded` finish, its model stream is reset — for
// clients that never cancel (HTTP/1.1 editors, plugins that let requests run); never across users.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Superseder } from '../../src/policy/supersession.js';
import { SupersessionConfig } from '../../src/policy/supersession-schema.js';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, eventually, h1request, sleep, sseEvents } from '../helpers/clients.js';
import { gatewayFor } from '../helpers/gateway.js';

const cfg = (over: Record<string, unknown> = {}) => SupersessionConfig.parse({ enabled: true, ...over });
const HEAD = `// file: a.ts\n${'import { x } from "y";\n'.repeat(20)}`;
const input = (headers: Record<string, string>, uid: string | undefined, prompt = `${HEAD}x`) => ({
  header: (name: string) => headers[name],
  uid,
  prompt,
});

describe('Superseder', () => {
  it('keys by user, editor session and document; an explicit key replaces session and document', () => {
    const s = new Superseder(cfg());
    const a = s.keyOf(input({ 'vscode-sessionid': 's1' }, 'u1'));
    assert.ok(a !== undefined);
    assert.equal(
      s.keyOf(input({ 'vscode-sessionid': 's1' }, 'u1', `${HEAD}xy = 1;\n`.repeat(3))),
      a,
      'same file, typed on',
    );
    assert.notEqual(
      s.keyOf(input({ 'vscode-sessionid': 's1' }, 'u1', `// file: b.ts\n${HEAD.slice(14)}x`)),
      a,
      'another file',
    );
    const short = s.keyOf(input({ 'vscode-sessionid': 's1' }, 'u1', '// file: a.ts\nx'));
    assert.equal(
      s.keyOf(input({ 'vscode-sessionid': 's1' }, 'u1', '// file: c.ts\nxy')),
      short,
      'a prompt shorter than the document window is all typing: the session is the key',
    );
    assert.notEqual(s.keyOf(input({ 'vscode-sessionid': 's2' }, 'u1')), a, 'another editor');
    assert.notEqual(s.keyOf(input({ 'vscode-sessionid': 's1' }, 'u2')), a, 'never across users');
    const k = s.keyOf(input({ 'x-ghostwire-supersede': 'tab-7' }, 'u1'));
    assert.equal(
      s.keyOf(input({ 'x-ghostwire-supersede': 'tab-7', 'vscode-sessionid': 'x' }, 'u1', 'other')),
      k,
    );
    assert.notEqual(s.keyOf(input({ 'x-ghostwire-supersede': 'tab-7' }, 'u2')), k);
  });
  it('no session and no key, or supersession off: no key', () => {
    assert.equal(new Superseder(cfg()).keyOf(input({}, 'u1')), undefined);
    assert.equal(
      new Superseder(SupersessionConfig.parse({})).keyOf(input({ 'vscode-sessionid': 's' }, 'u')),
      undefined,
    );
  });
  it('a newer request supersedes the older once; leaving forgets only the newest', () => {
    const s = new Superseder(cfg());
    const ended: string[] = [];
    const leaveA = s.enter('k', { supersede: () => ended.push('a') });
    const leaveB = s.enter('k', { supersede: () => ended.push('b') });
    assert.deepEqual(ended, ['a']);
    leaveA(); // A ends later: B stays the one a third request would replace
    assert.equal(s.inFlight, 1);
    s.enter('k', { supersede: () => ended.push('c') });
    assert.deepEqual(ended, ['a', 'b']);
    leaveB();
    assert.equal(s.supersededTotal, 2);
  });
});

describe('supersession over sockets: an HTTP/1.1 client that never cancels', () => {
  let sim: Simulator;
  let on: Gateway;
  let off: Gateway;
  before(async () => {
    // A slow model: a stale request would run for seconds if nobody stopped it.
    sim = await startSimulator({ ttftMs: 5, tokenMs: 20, maxTokens: 200, slots: 8 });
    const config = (enabled: boolean) => ({
      deployments: [{ name: 'sim', url: `h2c://127.0.0.1:${sim.port}` }],
      models: [{ name: 'default', deployments: ['sim'] }],
      policy: { supersession: { enabled } },
    });
    on = await gatewayFor(config(true));
    off = await gatewayFor(config(false));
  });
  after(async () => {
    await on.close(100);
    await off.close(100);
    await sim.close();
  });

  /** Two requests from one editor on one file, the second 150 ms after the first. */
  async function typeOn(gw: Gateway) {
    const headers = { 'vscode-sessionid': 'session-1' };
    const body = (tail: string) =>
      copilotBody({
        prompt: `// file: src/a.ts\nfunction f() {\n  return ${tail}`,
        max_tokens: 100,
        stop: [],
      });
    const first = h1request(gw.urls[0] as string, '/v1/engines/default/completions', body('1'), headers);
    await sleep(150);
    const second = await h1request(
      gw.urls[0] as string,
      '/v1/engines/default/completions',
      body('12'),
      headers,
    );
    return { first: await first, second };
  }

  it('on: the older stream ends at once with finish_reason superseded, and its model stops', async () => {
    sim.resetStats();
    const started = performance.now();
    const { first, second } = await typeOn(on);
    assert.equal(first.status, 200);
    const events = sseEvents(first.body);
    assert.equal(events.at(-1), '[DONE]');
    const last = events.at(-2) as { choices: { finish_reason: string }[] };
    assert.equal(last.choices[0]?.finish_reason, 'superseded');
    assert.ok(
      first.endedAt - started < 1000,
      `the stale answer ended after ${(first.endedAt - started).toFixed(0)} ms`,
    );
    assert.equal(sseEvents(second.body).at(-1), '[DONE]');
    await eventually(() => sim.stats().cancelled === 1);
    assert.ok(sim.stats().tokens_after_cancel <= 1);
    assert.equal(on.policy.stats().supersededTotal, 1);
  });

  it('off: the stale request runs to its end, and the model generates every token of it', async () => {
    sim.resetStats();
    const { first } = await typeOn(off);
    const last = sseEvents(first.body).at(-2) as { choices: { finish_reason: string }[] };
    assert.equal(last.choices[0]?.finish_reason, 'length');
    assert.equal(sim.stats().cancelled, 0);
    assert.ok(sim.stats().tokens_generated >= 200, `${sim.stats().tokens_generated} tokens for both`);
  });
});
