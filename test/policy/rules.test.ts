// Pins down rewrite rules (issue 7, item 1) below the sockets: what matches (plugin ranges,
// headers, identity, model index), how matching rules combine (order, routeTo, reject, final),
// what each edit does at its edges (clamp of a missing field, deletes, stop dedupe), and that a
// rewritten request's normalized fields, body and bytes always say the same thing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CLIENT_PROTOCOLS, tabbyProtocol, type ClientProtocol } from '../../src/protocol/client/index.js';
import type { ClientProtocolName } from '../../src/protocol/client/protocol.js';
import type { CompletionRequest } from '../../src/protocol/model.js';
import { RuleSet, type RuleOutcome } from '../../src/policy/rules/index.js';
import type { RuleIdentity } from '../../src/policy/rules/match.js';
import { RulesConfig } from '../../src/policy/rules-schema.js';

const TABBY = tabbyProtocol({ model: 'default', maxTokens: 64, contextChars: 0 });
const PROTOCOL: Record<ClientProtocolName, ClientProtocol> = {
  copilot: CLIENT_PROTOCOLS.copilot as ClientProtocol,
  openai: CLIENT_PROTOCOLS.openai as ClientProtocol,
  codestral: CLIENT_PROTOCOLS.codestral as ClientProtocol,
  tabby: TABBY,
};

interface Sent {
  protocol?: ClientProtocolName;
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
  path?: string;
  engine?: string;
  identity?: RuleIdentity;
}

/** A request as its protocol decodes it, with the headers and path rules look at. */
function sent(s: Sent = {}): {
  req: CompletionRequest;
  protocol: ClientProtocolName;
  http: { path: string; header(n: string): string | undefined };
  identity: RuleIdentity | undefined;
} {
  const protocol = s.protocol ?? 'copilot';
  const body =
    s.body ??
    (protocol === 'tabby'
      ? { language: 'python', segments: { prefix: 'def f(', suffix: ')' } }
      : protocol === 'copilot'
        ? {
            prompt: 'def f(',
            suffix: ')',
            max_tokens: 500,
            temperature: 0,
            n: 1,
            stop: ['\n\n'],
            stream: true,
            extra: { language: 'python' },
          }
        : { model: 'default', prompt: 'def f(', max_tokens: 500, stream: true });
  const headers = Object.fromEntries(Object.entries(s.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const raw = Buffer.from(JSON.stringify(body));
  const req = PROTOCOL[protocol].decode({
    body,
    raw,
    engine: protocol === 'copilot' ? (s.engine ?? 'copilot-codex') : undefined,
    client: {
      editor: headers['editor-version'],
      plugin: headers['editor-plugin-version'],
      session: undefined,
    },
  });
  const path =
    s.path ??
    (protocol === 'copilot'
      ? `/v1/engines/${s.engine ?? 'copilot-codex'}/completions`
      : protocol === 'codestral'
        ? '/v1/fim/completions'
        : '/v1/completions');
  return { req, protocol, http: { path, header: (n) => headers[n] }, identity: s.identity };
}

function rules(input: unknown[]): RuleSet {
  return new RuleSet(RulesConfig.parse(input));
}

function run(set: RuleSet, s: Sent = {}): { outcome: RuleOutcome | undefined; before: CompletionRequest } {
  const x = sent(s);
  return { outcome: set.apply(x.req, x.protocol, x.http, x.identity), before: x.req };
}

const fired = (set: RuleSet, s: Sent = {}): readonly string[] => run(set, s).outcome?.fired ?? [];

/** The rewritten request, checked for consistency: its body is its bytes, and decoding them gives its fields. */
function rewritten(set: RuleSet, s: Sent = {}): CompletionRequest {
  const { outcome } = run(set, s);
  assert.ok(outcome !== undefined, 'a rule fired');
  assert.equal(outcome.reject, undefined);
  assertConsistent(outcome.req, s.protocol ?? 'copilot', s.engine);
  return outcome.req;
}

/** What adapters rely on: the body parses from the bytes, and the client's protocol reads the same fields from it. */
function assertConsistent(
  req: CompletionRequest,
  protocol: ClientProtocolName,
  engine = 'copilot-codex',
): void {
  // Bytes, when kept, say what the body says; an edited body has none (the adapter serializes it).
  if (req.raw !== undefined)
    assert.deepEqual(JSON.parse(req.raw.toString('utf8')), req.body, 'raw and body agree');
  if (protocol === 'tabby') return; // Tabby's body has no max_tokens or stop: no adapter reads it back
  const again = PROTOCOL[protocol].decode({
    body: req.body,
    raw: req.raw ?? Buffer.from(JSON.stringify(req.body)),
    engine: protocol === 'copilot' ? (req.model ?? engine) : undefined,
    client: req.client,
  });
  // Mistral's FIM body has no logit_bias: it lives only in the normalized request (for upstreams built from it).
  const fields = [
    'maxTokens',
    'temperature',
    'topP',
    'n',
    'stop',
    'seed',
    'logprobs',
    'logitBias',
    'model',
  ] as const;
  for (const k of fields.filter((f) => !(protocol === 'codestral' && f === 'logitBias')))
    assert.deepEqual(req[k], again[k], `${k}: the normalized field and the body agree`);
}

const OLD = { 'editor-version': 'vscode/1.95.0', 'editor-plugin-version': 'copilot/1.150.0' };
const NEW = { 'editor-version': 'vscode/1.95.0', 'editor-plugin-version': 'copilot/1.250.0' };

describe('rewrite rules: matching', () => {
  it('plugin and editor ranges: old plugins match, new ones, other plugins, missing and unreadable headers do not', () => {
    const set = rules([
      {
        name: 'old',
        match: { plugin: 'copilot <1.200.0', editor: 'vscode >=1.90' },
        set: { max_tokens: 64 },
      },
    ]);
    assert.deepEqual(fired(set, { headers: OLD }), ['old']);
    assert.deepEqual(fired(set, { headers: NEW }), []);
    assert.deepEqual(
      fired(set, { headers: { ...OLD, 'editor-version': 'vscode/1.80.0' } }),
      [],
      'every condition must hold',
    );
    assert.deepEqual(fired(set, { headers: { ...OLD, 'editor-plugin-version': 'copilot-chat/0.1.0' } }), []);
    assert.deepEqual(fired(set, { headers: { ...OLD, 'editor-plugin-version': 'copilot/garbage' } }), []);
    assert.deepEqual(fired(set, { headers: { 'editor-version': 'vscode/1.95.0' } }), []);
    assert.deepEqual(
      fired(set, { headers: { ...OLD, 'editor-plugin-version': `copilot/${'1'.repeat(600)}` } }),
      [],
    );
  });

  it('a list is any of its values; User-Agent products match too', () => {
    const set = rules([
      { name: 'jb', match: { plugin: ['copilot-intellij <1.5', 'copilot.vim <1.40'] }, set: { n: 1 } },
      { name: 'ua', match: { userAgent: 'GithubCopilot 1.x' }, set: { n: 1 } },
    ]);
    assert.deepEqual(fired(set, { headers: { 'editor-plugin-version': 'copilot.vim/1.39.0' } }), ['jb']);
    assert.deepEqual(fired(set, { headers: { 'editor-plugin-version': 'copilot-intellij/1.4.2.5933' } }), [
      'jb',
    ]);
    assert.deepEqual(fired(set, { headers: { 'user-agent': 'GithubCopilot/1.250.0 (linux)' } }), ['ua']);
    assert.deepEqual(fired(set, { headers: { 'user-agent': 'GithubCopilot/2.0.0' } }), []);
  });

  it('protocol, path prefixes, model names and patterns, language (any case)', () => {
    const set = rules([
      { name: 'proto', match: { protocol: ['codestral', 'tabby'] }, final: true },
      { name: 'path', match: { path: '/v1/engines/*' }, final: true },
      { name: 'model', match: { model: ['gpt-4o-*', 'default'], protocol: 'openai' }, final: true },
    ]);
    assert.deepEqual(fired(set, { protocol: 'codestral' }), ['proto']);
    assert.deepEqual(fired(set, { protocol: 'tabby' }), ['proto']);
    assert.deepEqual(fired(set, { protocol: 'copilot' }), ['path']);
    assert.deepEqual(fired(set, { protocol: 'openai' }), ['model']);
    assert.deepEqual(fired(set, { protocol: 'openai', body: { model: 'gpt-4o-mini', prompt: 'x' } }), [
      'model',
    ]);
    assert.deepEqual(fired(set, { protocol: 'openai', body: { model: 'gpt-4', prompt: 'x' } }), []);
    const lang = rules([{ name: 'py', match: { language: ['Python', 'rust'] }, set: { n: 1 } }]);
    assert.deepEqual(fired(lang), ['py'], 'Copilot extra.language');
    assert.deepEqual(fired(lang, { protocol: 'tabby' }), ['py'], "Tabby's language");
    assert.deepEqual(fired(lang, { protocol: 'openai' }), [], 'no language: no match');
  });

  it('user, sku and org need a verified identity; headers match exact, prefix or any value', () => {
    const set = rules([
      { name: 'who', match: { sku: 'free', org: ['acme'] }, set: { n: 1 } },
      { name: 'uid', match: { user: 'u1' }, set: { n: 1 } },
      {
        name: 'hdr',
        match: { headers: { 'x-copilot-speculative': 'true', 'openai-intent': 'copilot-*' } },
        set: { n: 1 },
      },
      { name: 'any', match: { headers: { 'x-team': '*' } }, set: { n: 1 } },
    ]);
    assert.deepEqual(fired(set, { identity: { uid: 'u1', sku: 'free', org: 'acme' } }), ['who', 'uid']);
    assert.deepEqual(fired(set, { identity: { uid: 'u2', sku: 'free', org: undefined } }), []);
    assert.deepEqual(fired(set), [], 'auth off: identity conditions never hold');
    assert.deepEqual(
      fired(set, { headers: { 'x-copilot-speculative': 'true', 'openai-intent': 'copilot-ghost' } }),
      ['hdr'],
    );
    assert.deepEqual(
      fired(set, { headers: { 'x-copilot-speculative': 'false', 'openai-intent': 'copilot-ghost' } }),
      [],
    );
    assert.deepEqual(
      fired(set, { headers: { 'x-copilot-speculative': 'true' } }),
      [],
      'a missing header does not match',
    );
    assert.deepEqual(fired(set, { headers: { 'x-team': '' } }), ['any']);
  });

  it('a request no rule could match costs no copy: same request object, nothing fired', () => {
    const set = rules([{ name: 'other-model', match: { model: 'x' }, set: { n: 1 } }]);
    const { outcome } = run(set);
    assert.equal(outcome, undefined);
  });
});

describe('rewrite rules: precedence', () => {
  it('every matching rule applies in order; later rules see earlier edits', () => {
    const set = rules([
      { name: 'raise', set: { max_tokens: 900 } },
      { name: 'cap', clamp: { max_tokens: { max: 256 } } },
      { name: 'only-if-capped', match: { headers: { 'x-never': 'x' } }, set: { max_tokens: 1 } },
    ]);
    const { outcome } = run(set);
    assert.deepEqual(outcome?.fired, ['raise', 'cap']);
    assert.equal(outcome?.req.maxTokens, 256);
  });

  it('routeTo changes the model later rules match on, in both directions', () => {
    const set = rules([
      { name: 'to-small', match: { model: 'copilot-codex' }, routeTo: 'small' },
      { name: 'codex-only', match: { model: 'copilot-codex' }, set: { n: 1 } },
      { name: 'small-only', match: { model: 'small' }, set: { max_tokens: 32 } },
      { name: 'small-glob', match: { model: 'sm*' }, set: { temperature: 0.5 } },
    ]);
    const { outcome } = run(set);
    assert.deepEqual(outcome?.fired, ['to-small', 'small-only', 'small-glob']);
    assert.equal(outcome?.req.model, 'small');
    assert.equal(outcome?.req.maxTokens, 32);
    assertConsistent(outcome?.req, 'copilot');
  });

  it('a reject ends the request and the evaluation; final ends the evaluation after its edits', () => {
    const set = rules([
      { name: 'a', set: { max_tokens: 100 } },
      {
        name: 'old',
        match: { plugin: 'copilot <1.200' },
        reject: { status: 426, message: 'Update your plugin.' },
      },
      { name: 'stop-here', match: { headers: { 'x-vip': 'yes' } }, set: { max_tokens: 1000 }, final: true },
      { name: 'b', set: { n: 1, temperature: 0.1 } },
    ]);
    const rejected = run(set, { headers: OLD }).outcome;
    assert.deepEqual(rejected?.fired, ['a', 'old']);
    assert.equal(rejected?.reject?.code, 'GW_POLICY_REJECTED');
    assert.equal(rejected?.reject?.status, 426);
    assert.match(String(rejected?.reject?.message), /Update your plugin\.$/);
    const vip = run(set, { headers: { ...NEW, 'x-vip': 'yes' } }).outcome;
    assert.deepEqual(vip?.fired, ['a', 'stop-here']);
    assert.equal(vip?.req.maxTokens, 1000);
    assert.equal(vip?.req.temperature, 0, 'rule b never ran');
    assert.deepEqual(run(set, { headers: NEW }).outcome?.fired, ['a', 'b']);
  });

  it('the index finds exactly the rules a linear scan of every rule would (random rules and requests)', () => {
    const models = ['a', 'b', 'c'];
    const protocols: ClientProtocolName[] = ['copilot', 'openai', 'codestral', 'tabby'];
    const rule = fc.record({
      protocol: fc.option(fc.subarray(protocols, { minLength: 1 }), { nil: undefined }),
      model: fc.option(fc.subarray([...models, 'a*', 'z'], { minLength: 1 }), { nil: undefined }),
      routeTo: fc.option(fc.constantFrom(...models), { nil: undefined }),
      reject: fc.boolean(),
      final: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(rule, { maxLength: 12 }),
        fc.constantFrom(...protocols),
        fc.constantFrom(...models, 'a1', 'q'),
        (rs, protocol, model) => {
          const config = rs.map((r, i) => ({
            name: `r${i}`,
            match: { ...(r.protocol && { protocol: r.protocol }), ...(r.model && { model: r.model }) },
            ...(r.reject
              ? { reject: { status: 403, message: 'no' } }
              : { set: { max_tokens: i + 1 }, ...(r.routeTo && { routeTo: r.routeTo }) }),
            final: r.final,
          }));
          // The reference: every rule, in order, every condition checked.
          const expected: string[] = [];
          let m = model;
          for (const [i, r] of rs.entries()) {
            if (r.protocol && !r.protocol.includes(protocol)) continue;
            if (r.model && !r.model.some((p) => (p.endsWith('*') ? m.startsWith(p.slice(0, -1)) : p === m)))
              continue;
            expected.push(`r${i}`);
            if (r.reject) break;
            if (r.routeTo) m = r.routeTo;
            if (r.final) break;
          }
          const body =
            protocol === 'tabby'
              ? undefined
              : protocol === 'copilot'
                ? { prompt: 'x' }
                : { model, prompt: 'x' };
          const x = sent({ protocol, engine: model, ...(body && { body }) });
          // Tabby requests name the configured model; give it this one.
          const req = protocol === 'tabby' ? { ...x.req, model } : x.req;
          const outcome = rules(config).apply(req, protocol, x.http, undefined);
          assert.deepEqual(outcome?.fired ?? [], expected);
          if (outcome !== undefined && outcome.reject === undefined) assert.equal(outcome.req.model, m);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('rewrite rules: edits', () => {
  it('clamp: within bounds changes nothing (the client bytes stay), outside is bounded, a missing field is left alone', () => {
    const set = rules([
      { name: 'cap', clamp: { max_tokens: { min: 16, max: 256 }, temperature: { max: 0.5 }, n: { max: 1 } } },
    ]);
    const within = run(set, {
      protocol: 'openai',
      body: { model: 'default', prompt: 'x', max_tokens: 100, temperature: 0.2 },
    });
    assert.deepEqual(within.outcome?.fired, ['cap'], 'it fired...');
    assert.equal(
      within.outcome?.req,
      within.before,
      '...and the request is the same object: raw passes through',
    );
    const above = rewritten(set, {
      protocol: 'openai',
      body: { model: 'default', prompt: 'x', max_tokens: 4000, temperature: 1.7, n: 3 },
    });
    assert.equal(above.maxTokens, 256);
    assert.equal(above.temperature, 0.5);
    assert.equal(above.n, 1);
    assert.equal(
      rewritten(set, { protocol: 'openai', body: { model: 'default', prompt: 'x', max_tokens: 2 } })
        .maxTokens,
      16,
    );
    const missing = run(set, { protocol: 'openai', body: { model: 'default', prompt: 'x' } });
    assert.equal(missing.outcome?.req, missing.before, 'no max_tokens, no temperature: nothing to clamp');
    // `default` gives a missing field a value, which the clamp then bounds.
    const withDefault = rules([
      { name: 'd', default: { max_tokens: 9999 }, clamp: { max_tokens: { max: 256 } } },
    ]);
    assert.equal(
      rewritten(withDefault, { protocol: 'openai', body: { model: 'default', prompt: 'x' } }).maxTokens,
      256,
    );
    assert.equal(
      rewritten(withDefault, {
        protocol: 'openai',
        body: { model: 'default', prompt: 'x', max_tokens: 5000 },
      }).maxTokens,
      256,
    );
  });

  it('clamp bounds equal to each other pin the value; min alone raises', () => {
    const set = rules([{ name: 'pin', clamp: { temperature: { min: 0.2, max: 0.2 }, top_p: { min: 0.9 } } }]);
    const r = rewritten(set, {
      protocol: 'openai',
      body: { model: 'default', prompt: 'x', temperature: 0, top_p: 0.5 },
    });
    assert.equal(r.temperature, 0.2);
    assert.equal(r.topP, 0.9);
  });

  it('delete removes the field from the body and the normalized request', () => {
    const set = rules([{ name: 'plain', delete: ['logprobs', 'n', 'stop', 'temperature', 'logit_bias'] }]);
    const r = rewritten(set, {
      body: {
        prompt: 'x',
        logprobs: 2,
        n: 3,
        stop: ['\n'],
        temperature: 0.4,
        logit_bias: { '50256': -100 },
        stream: true,
      },
    });
    assert.equal(r.logprobs, undefined);
    assert.equal(r.n, 1);
    assert.deepEqual(r.stop, []);
    assert.equal(r.temperature, undefined);
    assert.equal(r.logitBias, undefined);
    assert.deepEqual(r.body, { prompt: 'x', stream: true });
  });

  it('addStop appends without duplicates, to the client’s own stops or none', () => {
    const set = rules([{ name: 'stops', addStop: ['\n\n', '```', '```'] }]);
    assert.deepEqual(rewritten(set).stop, ['\n\n', '```'], 'the client already had \\n\\n');
    assert.deepEqual(rewritten(set, { body: { prompt: 'x', stop: '\n' } }).stop, ['\n', '\n\n', '```']);
    assert.deepEqual(rewritten(set, { body: { prompt: 'x' } }).body.stop, ['\n\n', '```']);
    const same = run(set, { body: { prompt: 'x', stop: ['```', '\n\n'] } });
    assert.equal(same.outcome?.req, same.before, 'nothing new: nothing rewritten');
  });

  it('logitBias merges into the client’s entries; the rule wins for the same token', () => {
    const set = rules([{ name: 'bias', logitBias: { '50256': -100, '11': 5 } }]);
    const r = rewritten(set, {
      protocol: 'openai',
      body: { model: 'default', prompt: 'x', logit_bias: { '11': 1, '7': 2 } },
    });
    assert.deepEqual(r.logitBias, { '11': 5, '7': 2, '50256': -100 });
    assert.deepEqual(r.body.logit_bias, r.logitBias);
  });

  it('set writes the value whatever the client sent; a stop given as one string is a list', () => {
    const set = rules([{ name: 's', set: { max_tokens: 48, stop: '\n', seed: 7, top_p: 0.95 } }]);
    const r = rewritten(set);
    assert.equal(r.maxTokens, 48);
    assert.deepEqual(r.stop, ['\n']);
    assert.equal(r.seed, 7);
    assert.equal(r.topP, 0.95);
    assert.equal(r.prompt, 'def f(');
    assert.equal(r.suffix, ')');
  });

  it('Codestral clients: Mistral field names in the body (random_seed); n and logprobs do not apply; logit_bias only normalized', () => {
    const set = rules([
      {
        name: 'c',
        set: { max_tokens: 20, seed: 3, n: 2, logprobs: 1 },
        logitBias: { '5': 1 },
        addStop: ['\n'],
      },
    ]);
    const body = { model: 'codestral-latest', prompt: 'a', suffix: 'b', max_tokens: 64, stream: true };
    const r = rewritten(set, { protocol: 'codestral', body });
    assert.deepEqual(r.body, { ...body, max_tokens: 20, random_seed: 3, stop: ['\n'] });
    assert.equal(r.n, 1, 'a Codestral answer has one choice');
    assert.equal(r.logprobs, undefined);
    assert.deepEqual(r.logitBias, { '5': 1 }, 'for upstreams built from the fields');
  });

  it('Tabby clients: max_tokens, stop and logit_bias in the normalized request; temperature and seed in the body too', () => {
    const set = rules([{ name: 't', set: { max_tokens: 20, temperature: 0.3, seed: 4 }, addStop: ['\n'] }]);
    const r = rewritten(set, { protocol: 'tabby' });
    assert.equal(r.maxTokens, 20);
    assert.deepEqual(r.stop, ['\n']);
    assert.equal(r.body.temperature, 0.3);
    assert.equal(r.body.seed, 4);
    assert.equal(r.body.max_tokens, undefined, "not a field of Tabby's body");
  });

  it('routeTo rewrites a body that names its model; Copilot’s engine is in the path and stays', () => {
    const set = rules([{ name: 'r', routeTo: 'small' }]);
    const openai = rewritten(set, { protocol: 'openai' });
    assert.equal(openai.body.model, 'small');
    const copilot = rewritten(set);
    assert.equal(copilot.model, 'small');
    assert.equal(copilot.body.model, undefined);
  });

  it('any edits on any protocol leave fields, body and bytes in agreement (random rules)', () => {
    const fieldEdit = fc.record(
      {
        set: fc.record(
          {
            max_tokens: fc.integer({ min: 1, max: 4096 }),
            temperature: fc.double({ min: 0, max: 2, noNaN: true }),
            n: fc.integer({ min: 1, max: 16 }),
            stop: fc.array(fc.string({ minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
            seed: fc.nat(),
          },
          { requiredKeys: [] },
        ),
        clamp: fc.record(
          { max_tokens: fc.constant({ max: 100 }), top_p: fc.constant({ min: 0.5 }) },
          { requiredKeys: [] },
        ),
        addStop: fc.array(fc.string({ minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
        logitBias: fc.dictionary(
          fc.integer({ min: 0, max: 99999 }).map(String),
          fc.integer({ min: -100, max: 100 }),
          { minKeys: 1, maxKeys: 3 },
        ),
        routeTo: fc.constantFrom('m1', 'm2'),
        delete: fc.subarray(['max_tokens', 'temperature', 'n', 'stop', 'seed', 'logprobs', 'logit_bias'], {
          minLength: 1,
        }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.array(fieldEdit, { minLength: 1, maxLength: 4 }),
        fc.constantFrom<ClientProtocolName>('copilot', 'openai', 'codestral', 'tabby'),
        (edits, protocol) => {
          const config = edits.map((e, i) => {
            const rule: Record<string, unknown> = { name: `r${i}`, ...e };
            // The schema refuses a field both set and deleted: keep the set.
            if (e.delete && e.set) rule.delete = e.delete.filter((f) => !(f in (e.set as object)));
            if (Array.isArray(rule.delete) && rule.delete.length === 0) delete rule.delete;
            if (e.delete && e.clamp)
              rule.delete = (rule.delete as string[] | undefined)?.filter((f) => !(f in (e.clamp as object)));
            if (Array.isArray(rule.delete) && rule.delete.length === 0) delete rule.delete;
            if (Object.keys(rule).length === 1) rule.final = true;
            return rule;
          });
          const { outcome } = run(rules(config), { protocol });
          assert.ok(outcome !== undefined);
          assertConsistent(outcome.req, protocol);
        },
      ),
      { numRuns: 300 },
    );
  });
});
