import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.js';
import {
  isTabbyBody,
  openaiOrTabby,
  tabbyProtocol,
  withSnippets,
  type TabbySettings,
} from '../../src/protocol/client/tabby.js';
import type { CompletionRequest } from '../../src/protocol/model.js';
import { openaiAdapter } from '../../src/protocol/upstream/openai.js';
import { modelFieldBytes } from '../../src/protocol/upstream/openai.js';

const SETTINGS: TabbySettings = { model: 'tabby-model', maxTokens: 64, contextChars: 768 };
const CLIENT = { editor: undefined, plugin: undefined, session: undefined };
const META = { id: 'cmpl-7', created: 1, model: 'tabby-model' };

function decode(body: Record<string, unknown>, settings = SETTINGS): CompletionRequest {
  const raw = Buffer.from(JSON.stringify(body));
  return tabbyProtocol(settings).decode({ body, raw, engine: undefined, client: CLIENT });
}

// What tabby-agent sends for a Python file (its CompletionRequest).
const AGENT_BODY = {
  language: 'python',
  segments: {
    prefix: 'def fib(n):\n    ',
    suffix: '\n\nprint(fib(3))\n',
    filepath: 'src/fib.py',
    git_url: 'https://example.com/r.git',
    declarations: [{ filepath: 'src/util.py', body: 'def memo(f):\n    ...\n' }],
    relevant_snippets_from_changed_files: [{ filepath: 'src/a.py', body: 'x = 1', score: 0.5 }],
    clipboard: 'copied',
  },
  user: 'alice',
  temperature: 0.3,
  seed: 5,
};

describe('Tabby client protocol: decode', () => {
  it("builds the prompt as Tabby's server does: snippets as comments headed Path:, then the prefix", () => {
    const req = decode(AGENT_BODY);
    assert.equal(
      req.prompt,
      '# Path: src/util.py\n# def memo(f):\n#     ...\n#\n# Path: src/a.py\n# x = 1\ndef fib(n):\n    ',
    );
    assert.deepEqual(
      [req.suffix, req.filepath, req.language, req.model, req.maxTokens, req.temperature, req.stream, req.n],
      ['\n\nprint(fib(3))\n', 'src/fib.py', 'python', 'tabby-model', 64, 0.3, false, 1],
    );
  });

  it('sends OpenAI-shaped upstream bodies (no segments, no model of its own, the seed kept)', () => {
    const req = decode(AGENT_BODY);
    const t = {
      basePath: '',
      upstreamModel: 'qwen',
      modelField: modelFieldBytes('qwen'),
      fimTemplate: undefined,
      azure: undefined,
    };
    const body = JSON.parse(openaiAdapter.body(req, t, false).toString()) as unknown;
    assert.deepEqual(body, {
      prompt: req.prompt,
      suffix: '\n\nprint(fib(3))\n',
      max_tokens: 64,
      temperature: 0.3,
      seed: 5,
      model: 'qwen',
      stream: true,
    });
  });

  it("without a temperature, Tabby's server default (0.1); with debug_options.raw_prompt, that prompt as is", () => {
    assert.equal(decode({ segments: { prefix: 'x' } }).temperature, 0.1);
    const req = decode({
      segments: { prefix: 'ignored' },
      debug_options: { raw_prompt: '<PRE> a <SUF>b <MID>' },
    });
    assert.equal(req.prompt, '<PRE> a <SUF>b <MID>');
    assert.equal(req.suffix, undefined);
  });

  it('contextChars bounds the snippets (0 turns them off); unknown languages get none', () => {
    const snippets = [
      { filepath: 'a.ts', body: 'const a = 1;' },
      { filepath: 'b.ts', body: 'x'.repeat(100) },
      { filepath: 'c.ts', body: 'let c;' },
    ];
    assert.equal(
      withSnippets('P', 'typescript', snippets, 20),
      '// Path: a.ts\n// const a = 1;\n//\n// Path: c.ts\n// let c;\nP',
      'the snippet past the budget is left out, later ones that fit are kept',
    );
    assert.equal(withSnippets('P', 'typescript', snippets, 0), 'P');
    assert.equal(withSnippets('P', 'brainfuck', snippets, 768), 'P');
    assert.equal(withSnippets('P', undefined, snippets, 768), 'P');
    assert.equal(decode(AGENT_BODY, { ...SETTINGS, contextChars: 0 }).prompt, 'def fib(n):\n    ');
  });

  for (const [what, body, field] of [
    ['segments that are not an object', { segments: 'x' }, 'segments'],
    ['no prefix', { segments: { suffix: 'x' } }, 'segments.prefix'],
    ['a numeric suffix', { segments: { prefix: 'x', suffix: 1 } }, 'segments.suffix'],
    [
      'declarations that are not an array',
      { segments: { prefix: 'x', declarations: {} } },
      'segments.declarations',
    ],
    [
      'a declaration without a body',
      { segments: { prefix: 'x', declarations: [{ filepath: 'a' }] } },
      'segments.declarations[0].body',
    ],
    [
      'a snippet that is not an object',
      { segments: { prefix: 'x', relevant_snippets_from_changed_files: ['s'] } },
      'segments.relevant_snippets_from_changed_files[0]',
    ],
    ['next-edit suggestions', { segments: { prefix: 'x' }, mode: 'next_edit_suggestion' }, 'mode'],
    ['a negative seed', { segments: { prefix: 'x' }, seed: -1 }, 'seed'],
    ['a temperature of 3', { segments: { prefix: 'x' }, temperature: 3 }, 'temperature'],
    ['a numeric language', { segments: { prefix: 'x' }, language: 3 }, 'language'],
  ] as const) {
    it(`refuses ${what} with GW_INVALID_REQUEST naming "${field}"`, () => {
      assert.throws(
        () => decode(body),
        (err: unknown) =>
          err instanceof GatewayError &&
          err.code === 'GW_INVALID_REQUEST' &&
          err.message.includes(`"${field}"`),
      );
    });
  }
});

describe('Tabby encoder and the shared /v1/completions route', () => {
  it('answers {id, choices: [{index, text}]} as one JSON body', () => {
    const protocol = tabbyProtocol(SETTINGS);
    const req = decode(AGENT_BODY);
    const enc = protocol.encoder(req, META);
    assert.equal(enc.contentType, 'application/json');
    assert.equal(enc.event({ type: 'text', index: 0, text: 'return ' }), '');
    enc.event({ type: 'text', index: 0, text: 'n' });
    enc.event({ type: 'finish', index: 0, reason: 'stop' });
    enc.event({ type: 'usage', promptTokens: 1, completionTokens: 2 });
    assert.deepEqual(JSON.parse(enc.end()), { id: 'cmpl-7', choices: [{ index: 0, text: 'return n' }] });
    assert.deepEqual(JSON.parse(protocol.encoder(req, META).end()), {
      id: 'cmpl-7',
      choices: [{ index: 0, text: '' }],
    });
  });

  it('a body with segments and no prompt is Tabby’s; one with a prompt is OpenAI’s, and each is answered in its own format', () => {
    assert.equal(isTabbyBody({ segments: {} }), true);
    assert.equal(isTabbyBody({ debug_options: { raw_prompt: 'x' } }), true);
    assert.equal(isTabbyBody({ prompt: 'x', segments: {} }), false);
    assert.equal(isTabbyBody({ prompt: 'x' }), false);
    assert.equal(
      isTabbyBody({ model: 'm' }),
      false,
      'a body with neither is OpenAI’s, which names the missing prompt',
    );
    const choose = openaiOrTabby(tabbyProtocol(SETTINGS));
    const decode = (body: Record<string, unknown>) => {
      const protocol = choose(body);
      return { protocol, req: protocol.decode(input(body)) };
    };
    const input = (body: Record<string, unknown>) => ({
      body,
      raw: Buffer.from(JSON.stringify(body)),
      engine: undefined,
      client: CLIENT,
    });
    const tabby = decode(AGENT_BODY);
    assert.equal(tabby.protocol.name, 'tabby');
    assert.equal(tabby.req.model, 'tabby-model');
    assert.equal(tabby.protocol.encoder(tabby.req, META).contentType, 'application/json');
    const end = tabby.protocol.encoder(tabby.req, META).end();
    assert.deepEqual(Object.keys(JSON.parse(end) as object), ['id', 'choices']);
    const openai = decode({ model: 'm', prompt: 'x', stream: true });
    assert.equal(openai.protocol.name, 'openai');
    assert.equal(openai.protocol.encoder(openai.req, META).contentType, 'text/event-stream');
    assert.throws(
      () => decode({ model: 'm' }),
      (err: unknown) => err instanceof GatewayError && err.message.includes('"prompt"'),
    );
  });
});
