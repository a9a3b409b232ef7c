import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KeyRing, mintToken } from '../../src/auth/token/index.js';
import { hashApiKey } from '../../src/auth/verifiers/index.js';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { h1request, h2connect, h2request, sseEvents, type Received } from '../helpers/clients.js';
import { gatewayFor } from '../helpers/gateway.js';

// The Codestral and Tabby client protocols over real sockets, against the simulator speaking
// OpenAI completions and Mistral's FIM route: what each client sends, what crosses to the model
// server, and what the client gets back.

const FIM = '/v1/fim/completions';
const PROMPT =
  'function add1(a) {\n  return a + 1;\n}\nfunction add2(a) {\n  return a + 2;\n}\nfunction add3(a) {\n  return a';

interface Chunk {
  id: string;
  object: string;
  model: string;
  choices: { index: number; delta: { role?: string; content: string }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** The chunks of a Mistral FIM stream, checking the framing every client relies on. */
function fimChunks(res: Received): Chunk[] {
  assert.equal(res.status, 200, res.body);
  assert.match(String(res.headers['content-type']), /text\/event-stream/);
  const events = sseEvents(res.body);
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1) as Chunk[];
  assert.ok(chunks.length >= 2, res.body);
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    // Continue's Mistral provider reads choices[0].delta.content of every chunk, unchecked.
    assert.equal(typeof c.choices[0]?.delta.content, 'string', JSON.stringify(c));
  }
  assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
  assert.ok(chunks.slice(0, -1).every((c) => c.choices[0]?.finish_reason === null));
  assert.match(String(chunks.at(-1)?.choices[0]?.finish_reason), /^(stop|length)$/);
  return chunks;
}

const fimText = (chunks: readonly Chunk[]): string => chunks.map((c) => c.choices[0]?.delta.content).join('');

function errorOf(res: Received): { code: string; message: string } {
  return (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
}

describe('client protocols over sockets: Codestral FIM and Tabby', () => {
  let sim: Simulator;
  let gw: Gateway;
  let url: string;

  before(async () => {
    sim = await startSimulator({ ttftMs: 2, tokenMs: 2, slots: 32, maxTokens: 24 });
    const sims = `h2c://127.0.0.1:${sim.port}`;
    gw = await gatewayFor({
      deployments: [
        { name: 'openai', url: sims, adapter: 'openai' },
        { name: 'mistral', url: sims, adapter: 'codestral' },
      ],
      models: [
        { name: 'default', deployments: ['openai'] },
        { name: 'codestral-latest', deployments: ['mistral'] },
      ],
    });
    url = gw.urls[0] as string;
  });
  after(async () => {
    await gw.close(100);
    await sim.close();
  });

  describe('Codestral client', () => {
    it('→ openai upstream: streamed chunks transcoded from text_completion events', async () => {
      const body = {
        model: 'default',
        prompt: PROMPT,
        suffix: '\n',
        max_tokens: 8,
        temperature: 0,
        stream: true,
      };
      const chunks = fimChunks(await h1request(url, FIM, JSON.stringify(body)));
      assert.ok(fimText(chunks).length > 0);
      assert.ok(
        chunks.every((c) => c.id.startsWith('cmpl-') && c.model === 'default'),
        'the gateway wrote them',
      );
      assert.equal(sim.lastRequest()?.path, '/v1/completions');
    });

    it('→ openai upstream, not streaming: one chat.completion body', async () => {
      const body = { model: 'default', prompt: PROMPT, max_tokens: 8 };
      const res = await h1request(url, FIM, JSON.stringify(body));
      assert.equal(res.status, 200, res.body);
      assert.match(String(res.headers['content-type']), /application\/json/);
      const answer = JSON.parse(res.body) as {
        object: string;
        choices: { index: number; message: { role: string; content: string }; finish_reason: string }[];
      };
      assert.equal(answer.object, 'chat.completion');
      assert.equal(answer.choices.length, 1);
      assert.equal(answer.choices[0]?.message.role, 'assistant');
      assert.ok((answer.choices[0]?.message.content ?? '').length > 0);
      assert.match(String(answer.choices[0]?.finish_reason), /^(stop|length)$/);
    });

    it("→ codestral upstream: the simulator's bytes pass through, and the client's body is sent as it came", async () => {
      const body = { model: 'codestral-latest', prompt: PROMPT, suffix: '\n', max_tokens: 8, stream: true };
      const session = await h2connect(url);
      try {
        const chunks = fimChunks(await h2request(session, FIM, JSON.stringify(body)));
        // The simulator's ids (no cmpl- prefix) and its usage on the last chunk: nothing re-encoded.
        assert.ok(
          chunks.every((c) => !c.id.startsWith('cmpl-')),
          chunks[0]?.id,
        );
        assert.equal(chunks.at(-1)?.usage?.completion_tokens, 8);
      } finally {
        session.close();
      }
      const seen = sim.lastRequest();
      assert.equal(seen?.path, FIM);
      assert.deepEqual(seen?.body, body);
    });

    it('→ codestral upstream with stop: the gateway cuts at the stop and says why', async () => {
      const base = {
        model: 'codestral-latest',
        prompt: PROMPT,
        max_tokens: 24,
        temperature: 0,
        stream: true,
      };
      const whole = fimText(fimChunks(await h1request(url, FIM, JSON.stringify(base))));
      assert.ok(whole.includes('\n'), `the reference completion spans lines: ${JSON.stringify(whole)}`);
      const res = await h1request(url, FIM, JSON.stringify({ ...base, stop: ['\n'] }));
      const chunks = fimChunks(res);
      assert.equal(fimText(chunks), whole.slice(0, whole.indexOf('\n')));
      assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'stop');
      assert.ok(
        chunks.every((c) => c.id.startsWith('cmpl-')),
        'decoded and re-encoded',
      );
      assert.deepEqual(
        (sim.lastRequest()?.body as { stop?: unknown }).stop,
        ['\n'],
        'the upstream is told too',
      );
    });

    it('→ codestral upstream, not streaming: the stream the gateway asked for comes back as one body with usage', async () => {
      const res = await h1request(
        url,
        FIM,
        JSON.stringify({ model: 'codestral-latest', prompt: PROMPT, max_tokens: 5 }),
      );
      assert.equal(res.status, 200, res.body);
      const answer = JSON.parse(res.body) as {
        choices: { message: { content: string } }[];
        usage: { completion_tokens: number };
      };
      assert.ok((answer.choices[0]?.message.content ?? '').length > 0);
      assert.equal(answer.usage.completion_tokens, 5);
      assert.equal((sim.lastRequest()?.body as { stream?: unknown }).stream, true);
    });

    for (const [what, body, field] of [
      ['no model', { prompt: 'x' }, 'model'],
      ['a temperature above 1.5', { model: 'default', prompt: 'x', temperature: 1.8 }, 'temperature'],
      ['a prompt that is not a string', { model: 'default', prompt: 7 }, 'prompt'],
    ] as const) {
      it(`${what}: 400 GW_INVALID_REQUEST naming "${field}"`, async () => {
        const res = await h1request(url, FIM, JSON.stringify(body));
        assert.equal(res.status, 400, res.body);
        const err = errorOf(res);
        assert.equal(err.code, 'GW_INVALID_REQUEST');
        assert.ok(err.message.includes(`"${field}"`), err.message);
      });
    }
  });

  describe('Tabby client', () => {
    const tabbyBody = {
      language: 'javascript',
      segments: {
        prefix: PROMPT,
        suffix: '\n}\n',
        filepath: 'src/add.js',
        git_url: '',
        declarations: [{ filepath: 'src/util.js', body: 'export const one = 1;' }],
        relevant_snippets_from_changed_files: [],
        clipboard: '',
      },
      user: 'alice',
      seed: 3,
    };

    it('→ openai upstream: one JSON answer {id, choices: [{index, text}]}', async () => {
      const res = await h1request(url, '/v1/completions', JSON.stringify(tabbyBody));
      assert.equal(res.status, 200, res.body);
      assert.match(String(res.headers['content-type']), /application\/json/);
      const answer = JSON.parse(res.body) as { id: string; choices: { index: number; text: string }[] };
      assert.match(answer.id, /^cmpl-/);
      assert.equal(answer.choices.length, 1);
      assert.equal(answer.choices[0]?.index, 0);
      assert.ok((answer.choices[0]?.text ?? '').length > 0);
      const seen = sim.lastRequest()?.body as Record<string, unknown>;
      assert.equal(sim.lastRequest()?.path, '/v1/completions');
      assert.equal(seen.model, 'default');
      assert.equal(seen.prompt, `// Path: src/util.js\n// export const one = 1;\n${PROMPT}`);
      assert.equal(seen.suffix, '\n}\n');
      assert.equal(seen.max_tokens, 64);
      assert.equal(seen.seed, 3);
      assert.equal(seen.stream, true);
      assert.equal(seen.segments, undefined, "Tabby's own fields stay with the gateway");
    });

    it('OpenAI clients on the same route still get text_completion events', async () => {
      const body = { model: 'default', prompt: PROMPT, max_tokens: 4, stream: true };
      const res = await h1request(url, '/v1/completions', JSON.stringify(body));
      assert.equal(res.status, 200, res.body);
      const first = sseEvents(res.body)[0] as { object: string };
      assert.equal(first.object, 'text_completion');
    });

    it('GET /v1/health answers Tabby’s HealthState; POST too (older clients retry with it)', async () => {
      for (const method of ['GET', 'POST']) {
        const res = await h1request(url, '/v1/health', undefined, {}, method);
        assert.equal(res.status, 200, res.body);
        const health = JSON.parse(res.body) as Record<string, unknown>;
        assert.equal(health.model, 'default');
        assert.equal(health.chat_model, undefined, 'no chat: the clients turn their chat features off');
        assert.equal(typeof health.device, 'string');
        assert.equal(typeof health.arch, 'string');
        assert.equal(typeof health.cpu_info, 'string');
        assert.equal(typeof health.cpu_count, 'number');
        assert.deepEqual(health.cuda_devices, []);
        const version = health.version as Record<string, unknown>;
        for (const k of ['build_date', 'build_timestamp', 'git_sha', 'git_describe'])
          assert.equal(typeof version[k], 'string', k);
        assert.match(String(version.git_describe), /^ghostwire-v\d+\.\d+\.\d+/);
      }
      const put = await h1request(url, '/v1/health', undefined, {}, 'PUT');
      assert.equal(put.status, 405);
    });

    it('POST /v1/events (with the select_kind query tabby-agent adds) is read and answered 200, empty', async () => {
      const event = { type: 'select', completion_id: 'cmpl-1', choice_index: 0, view_id: 'v', elapsed: 120 };
      const res = await h1request(url, '/v1/events?select_kind=line', JSON.stringify(event));
      assert.equal(res.status, 200, res.body);
      assert.equal(res.body, '');
      const get = await h1request(url, '/v1/events', undefined, {}, 'GET');
      assert.equal(get.status, 405);
      const huge = await h1request(url, '/v1/events', JSON.stringify({ pad: 'x'.repeat(100_000) }));
      assert.equal(huge.status, 413, huge.body);
    });

    for (const [what, body, field] of [
      ['no prefix', { segments: { suffix: 'x' } }, 'segments.prefix'],
      [
        'a declaration without a body',
        { segments: { prefix: 'x', declarations: [{ filepath: 'a' }] } },
        'segments.declarations[0].body',
      ],
      ['next-edit mode', { segments: { prefix: 'x' }, mode: 'next_edit_suggestion' }, 'mode'],
    ] as const) {
      it(`${what}: 400 GW_INVALID_REQUEST naming "${field}"`, async () => {
        const res = await h1request(url, '/v1/completions', JSON.stringify(body));
        assert.equal(res.status, 400, res.body);
        const err = errorOf(res);
        assert.equal(err.code, 'GW_INVALID_REQUEST');
        assert.ok(err.message.includes(`"${field}"`), err.message);
      });
    }
  });
});

describe('Tabby: the configured model, and bearer auth on its routes', () => {
  const SIGNING_KEY = 'k1-secret-0123456789abcdef0123456789abcdef';
  let sim: Simulator;
  let gw: Gateway;
  let url: string;
  let token: string;

  before(async () => {
    sim = await startSimulator({ ttftMs: 2, tokenMs: 2, slots: 8, maxTokens: 8 });
    gw = await gatewayFor({
      deployments: [{ name: 'mistral', url: `h2c://127.0.0.1:${sim.port}`, adapter: 'codestral' }],
      models: [{ name: 'codestral-latest', deployments: ['mistral'] }],
      protocols: { tabby: { model: 'codestral-latest', maxTokens: 6 } },
      auth: {
        signingKeys: [{ id: 'k1', secret: SIGNING_KEY }],
        verifier: {
          type: 'static',
          users: [{ uid: 'u', apiKeySha256: hashApiKey('gw_key_0123456789abcdef') }],
        },
      },
    });
    url = gw.urls[0] as string;
    const ring = new KeyRing([{ id: 'k1', retired: false, secret: SIGNING_KEY }]);
    const identity = { uid: 'u', login: 'u', sku: 's', org: undefined };
    token = mintToken({
      ring,
      identity,
      lifetimeS: 60,
      nowS: Date.now() / 1000,
      proxyEp: 'x',
      flags: {},
    }).token;
  });
  after(async () => {
    await gw.close(100);
    await sim.close();
  });

  it('health, events and completions need the gateway token', async () => {
    const cases = [
      ['/v1/health', 'GET', undefined],
      ['/v1/events', 'POST', '{"type":"view","completion_id":"c","choice_index":0}'],
      ['/v1/completions', 'POST', '{"segments":{"prefix":"x"}}'],
    ] as const;
    for (const [path, method, body] of cases) {
      const res = await h1request(url, path, body, {}, method);
      assert.equal(res.status, 401, `${path}: ${res.body}`);
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
    const ok = await h1request(url, '/v1/health', undefined, { authorization: `Bearer ${token}` }, 'GET');
    assert.equal(ok.status, 200, ok.body);
    assert.equal((JSON.parse(ok.body) as { model?: string }).model, 'codestral-latest');
  });

  it('a Tabby request goes to protocols.tabby.model, here on a codestral upstream, with Mistral’s fields only', async () => {
    const body = { language: 'python', segments: { prefix: 'def f(', suffix: '\n' }, seed: 9, user: 'u' };
    const res = await h1request(url, '/v1/completions', JSON.stringify(body), {
      authorization: `Bearer ${token}`,
    });
    assert.equal(res.status, 200, res.body);
    const answer = JSON.parse(res.body) as { choices: { text: string }[] };
    assert.ok((answer.choices[0]?.text ?? '').length > 0);
    const seen = sim.lastRequest();
    assert.equal(seen?.path, FIM);
    assert.deepEqual(seen?.body, {
      model: 'codestral-latest',
      prompt: 'def f(',
      suffix: '\n',
      max_tokens: 6,
      temperature: 0.1,
      random_seed: 9,
      stream: true,
    });
  });

  it('with no such model configured, health leaves `model` out (clients then offer no completions)', async () => {
    const other = await gatewayFor({
      deployments: [{ name: 'mistral', url: `h2c://127.0.0.1:${sim.port}`, adapter: 'codestral' }],
      models: [{ name: 'codestral-latest', deployments: ['mistral'] }],
    });
    try {
      const base = other.urls[0] as string;
      const health = JSON.parse((await h1request(base, '/v1/health', undefined, {}, 'GET')).body) as object;
      assert.equal('model' in health, false);
      assert.equal('device' in health, true);
      const res = await h1request(base, '/v1/completions', '{"segments":{"prefix":"x"}}');
      assert.equal(errorOf(res).code, 'GW_UNKNOWN_MODEL');
    } finally {
      await other.close(100);
    }
  });
});

// The table in docs/protocols.md: every client protocol through each of these adapters, one
// request each, checked in the client's own format and on the upstream's own route.
describe('every client protocol × every upstream adapter', () => {
  type Client = 'copilot' | 'openai' | 'codestral' | 'tabby';
  const requests: Record<Client, { path: string; body: Record<string, unknown> }> = {
    copilot: {
      path: '/v1/engines/m/completions',
      body: {
        prompt: PROMPT,
        suffix: '',
        max_tokens: 6,
        n: 1,
        stop: ['\n\n\n'],
        stream: true,
        extra: { language: 'javascript' },
      },
    },
    openai: { path: '/v1/completions', body: { model: 'm', prompt: PROMPT, max_tokens: 6, stream: true } },
    codestral: { path: FIM, body: { model: 'm', prompt: PROMPT, suffix: '\n', max_tokens: 6, stream: true } },
    tabby: {
      path: '/v1/completions',
      body: { language: 'javascript', segments: { prefix: PROMPT, suffix: '\n' } },
    },
  };

  /** The completion text, read the way each client reads its answer. */
  function textOf(client: Client, res: Received): string {
    assert.equal(res.status, 200, res.body);
    if (client === 'tabby')
      return (JSON.parse(res.body) as { choices: { text: string }[] }).choices[0]?.text ?? '';
    if (client === 'codestral') return fimText(fimChunks(res));
    const events = sseEvents(res.body);
    assert.equal(events.at(-1), '[DONE]');
    // Azure opens its stream with a prompt_filter_results event whose choices are empty (and its
    // object ''); passed through untouched, clients skip it as they do from Azure itself.
    const chunks = (
      events.slice(0, -1) as {
        object: string;
        choices: { text: string; finish_reason: string | null }[];
      }[]
    ).filter((c) => c.choices.length > 0);
    assert.ok(chunks.every((c) => c.object === 'text_completion'));
    assert.ok(
      chunks.some((c) => c.choices[0]?.finish_reason !== null),
      'a finish reason',
    );
    return chunks.map((c) => c.choices[0]?.text ?? '').join('');
  }

  /** Each adapter: the route it must reach on the simulator, and what its deployment needs. */
  const adapters = {
    openai: { path: '/v1/completions', extra: {} },
    copilot: { path: '/v1/engines/m/completions', extra: {} },
    codestral: { path: FIM, extra: {} },
    'azure-openai': { path: '/openai/deployments/m/completions', extra: {} },
    vllm: { path: '/v1/completions', extra: { fimTemplate: 'starcoder' } },
    llamacpp: { path: '/infill', extra: {} },
    ollama: { path: '/api/generate', extra: {} },
    tgi: { path: '/generate_stream', extra: { fimTemplate: 'qwen2.5-coder' } },
  } as const;
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ ttftMs: 2, tokenMs: 1, slots: 16, maxTokens: 16 });
  });
  after(async () => {
    await sim.close();
  });

  for (const adapter of Object.keys(adapters) as (keyof typeof adapters)[]) {
    it(`${adapter} adapter: Copilot, OpenAI, Codestral and Tabby clients each get a completion`, async () => {
      const gw = await gatewayFor({
        deployments: [
          { name: 'up', url: `h2c://127.0.0.1:${sim.port}`, adapter, ...adapters[adapter].extra },
        ],
        models: [{ name: 'm', deployments: ['up'] }],
        protocols: { tabby: { model: 'm' } },
      });
      try {
        for (const client of ['copilot', 'openai', 'codestral', 'tabby'] as const) {
          const { path, body } = requests[client];
          const res = await h1request(gw.urls[0] as string, path, JSON.stringify(body));
          assert.ok(textOf(client, res).length > 0, `${client} → ${adapter}: ${res.body}`);
          assert.equal(sim.lastRequest()?.path, adapters[adapter].path, `${client} → ${adapter}`);
        }
      } finally {
        await gw.close(100);
      }
    });
  }
});
