// Every upstream adapter over real sockets: a Copilot or OpenAI client talks to a gateway, the
// gateway to the simulator speaking that adapter's wire format (HTTP/2 or HTTP/1.1 as the real
// server does). Pins down what crosses both legs: the upstream request (path, key, FIM prompt, no
// suffix for vLLM), the client's text_completion answer (text, finish reasons, [DONE]), stop
// sequences cut by the gateway even when the server ignores them, an in-band upstream error
// reaching the client as the gateway's error event, and a client reset reaching the model server.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { GatewayConfigInput } from '../../src/config/schema.js';
import type { AdapterName } from '../../src/protocol/upstream/index.js';
import type { Gateway } from '../../src/server/gateway.js';
import {
  startSimulator,
  type FimTemplateName as SimTemplateName,
  type RecordedRequest,
  type Simulator,
  type SimulatorOptions,
} from '../../src/simulator/index.js';
import {
  copilotBody,
  eventually,
  h2connect,
  h2request,
  sseEvents,
  type Received,
} from '../helpers/clients.js';
import { gatewayFor } from '../helpers/gateway.js';

type DeploymentConfigInput = GatewayConfigInput['deployments'][number];

const AZURE_KEY = 'azure-key-0123';
const UPSTREAM_MODEL = 'qwen2.5-coder:1.5b';
const PROMPT =
  'function add1(a) {\n  return a + 1;\n}\nfunction add2(a) {\n  return a + 2;\n}\nfunction add3(a) {\n  return a';
const SUFFIX = '\n}\n';
/** Occurs early in what the simulator continues PROMPT with (" + 2;\n}\nfunction…"). */
const STOP = '\n}';

interface Row {
  adapter: AdapterName;
  /** h2c:// or http:// (HTTP/1.1): how the real server is reached. */
  scheme: 'h2c' | 'http';
  sim: Partial<SimulatorOptions>;
  deployment: Partial<DeploymentConfigInput>;
  /**
   * Answers in the client's own format (OpenAI completions): a streamed answer with nothing to
   * enforce passes through untouched, and stops are watched in the upstream's events (ScanOut).
   */
  sameFormat: boolean;
  /** The simulator's name for the FIM template the gateway must build (vLLM, TGI). */
  simTemplate?: SimTemplateName;
  /** What the upstream request must look like. */
  wire(seen: RecordedRequest): void;
}

const body = (seen: RecordedRequest): Record<string, unknown> => seen.body as Record<string, unknown>;

const ROWS: Row[] = [
  {
    adapter: 'openai',
    scheme: 'h2c',
    sameFormat: true,
    sim: {},
    deployment: {},
    wire(seen) {
      assert.equal(seen.path, '/v1/completions');
      assert.equal(body(seen).model, UPSTREAM_MODEL);
    },
  },
  {
    adapter: 'copilot',
    scheme: 'h2c',
    sameFormat: true,
    sim: {},
    deployment: {},
    wire(seen) {
      assert.equal(seen.path, `/v1/engines/${encodeURIComponent(UPSTREAM_MODEL)}/completions`);
      assert.equal(body(seen).model, undefined, 'the engine in the path names the model');
    },
  },
  {
    adapter: 'codestral',
    scheme: 'h2c',
    sameFormat: false,
    sim: {},
    deployment: {},
    wire(seen) {
      const b = body(seen);
      assert.equal(seen.path, '/v1/fim/completions');
      assert.equal(b.model, UPSTREAM_MODEL);
      assert.equal(b.prompt, PROMPT);
      assert.equal(b.stream, true);
    },
  },
  {
    adapter: 'azure-openai',
    scheme: 'h2c',
    sim: { apiKey: AZURE_KEY },
    deployment: {
      azure: { deployment: 'code-dep', apiVersion: '2024-06-01' },
      credential: { type: 'header', header: 'api-key', value: AZURE_KEY },
    },
    sameFormat: true,
    wire(seen) {
      // The simulator records the path without its query; it answers 404 without an api-version.
      assert.equal(seen.path, '/openai/deployments/code-dep/completions');
      assert.equal(seen.headers['api-key'], AZURE_KEY);
      assert.equal(body(seen).model, undefined, 'the deployment in the path names the model');
    },
  },
  {
    adapter: 'vllm',
    scheme: 'h2c',
    sameFormat: true,
    sim: { rejectSuffix: true },
    deployment: { fimTemplate: 'qwen2.5-coder' },
    simTemplate: 'qwen2.5-coder',
    wire(seen) {
      const b = body(seen);
      assert.equal(seen.path, '/v1/completions');
      assert.equal(b.model, UPSTREAM_MODEL);
      assert.equal('suffix' in b, false, 'vLLM is never sent a suffix');
      assert.match(
        String(b.prompt),
        /^<\|fim_prefix\|>function add1[^]*<\|fim_suffix\|>[^]*<\|fim_middle\|>$/,
      );
      assert.ok((b.stop as string[]).includes('<|fim_pad|>'), 'the template stops are added');
    },
  },
  {
    adapter: 'llamacpp',
    scheme: 'http',
    sameFormat: false,
    sim: {},
    deployment: {},
    wire(seen) {
      const b = body(seen);
      assert.equal(seen.path, '/infill');
      assert.equal(b.input_prefix, PROMPT);
      assert.equal(typeof b.input_suffix, 'string');
      assert.equal(b.stream, true);
      assert.equal(b.cache_prompt, true);
    },
  },
  {
    adapter: 'ollama',
    scheme: 'http',
    sameFormat: false,
    sim: {},
    deployment: {},
    wire(seen) {
      const b = body(seen);
      assert.equal(seen.path, '/api/generate');
      assert.equal(b.model, UPSTREAM_MODEL);
      assert.equal(b.prompt, PROMPT);
      assert.equal(b.raw, false);
      assert.equal(b.stream, true);
    },
  },
  {
    adapter: 'tgi',
    scheme: 'h2c',
    sameFormat: false,
    sim: {},
    deployment: { fimTemplate: 'codellama' },
    simTemplate: 'codellama',
    wire(seen) {
      const b = body(seen);
      assert.equal(seen.path, '/generate_stream');
      assert.match(String(b.inputs), /^<PRE> function add1[^]* <SUF>[^]* <MID>$/);
      assert.deepEqual((b.parameters as { details: boolean }).details, true);
    },
  },
];

/** The text the simulator generates for PROMPT (every format continues the same code). */
async function reference(ref: Simulator, maxTokens: number, stop: string[]): Promise<string> {
  const res = await fetch(`${ref.url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ prompt: PROMPT, max_tokens: maxTokens, temperature: 0, stop }),
  });
  const json = (await res.json()) as { choices: { text: string }[] };
  return (json.choices[0] as { text: string }).text;
}

interface Choice {
  text: string;
  index: number;
  finish_reason: string | null;
}

/** A streamed text_completion answer, checked for shape: its choices' texts and finish reasons. */
function streamed(res: Received): { text: string[]; finish: (string | null)[]; events: unknown[] } {
  assert.equal(res.status, 200, res.body);
  assert.match(String(res.headers['content-type']), /text\/event-stream/);
  const events = sseEvents(res.body);
  assert.equal(events.at(-1), '[DONE]', res.body);
  const text: string[] = [];
  const finish: (string | null)[] = [];
  for (const e of events.slice(0, -1)) {
    const choices = (e as { choices?: unknown }).choices;
    assert.ok(Array.isArray(choices), `an event without choices: ${JSON.stringify(e)}`);
    for (const c of choices as Choice[]) {
      text[c.index] = (text[c.index] ?? '') + c.text;
      if (c.finish_reason !== null) finish[c.index] = c.finish_reason;
    }
  }
  return { text, finish, events };
}

/** A streaming Copilot request reset by the client after its first chunk. */
function resetAfterFirstChunk(
  session: http2.ClientHttp2Session,
  path: string,
  payload: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' });
    req.on('data', () => {
      if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
      resolve();
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.on('end', () => reject(new Error('the stream ended before the client could reset it')));
    req.end(payload);
  });
}

const SIM_TIMING = { ttftMs: 2, tokenMs: 4, maxTokens: 64, slots: 16 };

describe('upstream adapters over real sockets', () => {
  let ref: Simulator;
  before(async () => {
    ref = await startSimulator({ ttftMs: 0, tokenMs: 0, maxTokens: 64 });
  });
  after(async () => {
    await ref.close();
  });

  for (const row of ROWS) {
    describe(`${row.adapter} (${row.scheme === 'http' ? 'HTTP/1.1' : 'h2c'})`, () => {
      let sim: Simulator;
      /** Takes the fault-injecting deployments: a keyed simulator would refuse their requests. */
      let faultSim: Simulator;
      let gw: Gateway;
      let session: http2.ClientHttp2Session;

      before(async () => {
        sim = await startSimulator({ ...SIM_TIMING, ...row.sim });
        faultSim =
          row.sim.apiKey === undefined
            ? sim
            : await startSimulator({ ...SIM_TIMING, ...row.sim, apiKey: '' });
        const deployment = (name: string, url: string, fault?: [string, string]): DeploymentConfigInput => ({
          name,
          url: `${row.scheme}://127.0.0.1:${url}`,
          adapter: row.adapter,
          ...row.deployment,
          // The gateway forwards no client headers upstream: a deployment's credential header is
          // how a test puts the simulator's fault hooks on every request it sends.
          ...(fault === undefined
            ? {}
            : { credential: { type: 'header', header: fault[0], value: fault[1] } }),
        });
        gw = await gatewayFor({
          deployments: [
            deployment('main', String(sim.port)),
            deployment('errs', String(faultSim.port), ['x-sim-error-after', '3']),
            deployment('nostop', String(faultSim.port), ['x-sim-ignore-stop', '1']),
          ],
          models: [
            { name: 'main', upstreamModel: UPSTREAM_MODEL, deployments: ['main'] },
            { name: 'errs', upstreamModel: UPSTREAM_MODEL, deployments: ['errs'] },
            { name: 'nostop', upstreamModel: UPSTREAM_MODEL, deployments: ['nostop'] },
          ],
        });
        session = await h2connect(gw.urls[0] as string);
      });
      after(async () => {
        session.close();
        await gw.close(100);
        if (faultSim !== sim) await faultSim.close();
        await sim.close();
      });

      it('Copilot stream: the upstream request is its format; the client gets the text up to the stop and [DONE]', async () => {
        const fimBefore =
          row.simTemplate === undefined ? 0 : (sim.stats().fim_templates?.[row.simTemplate] ?? 0);
        const res = await h2request(
          session,
          '/v1/engines/main/completions',
          copilotBody({ prompt: PROMPT, suffix: SUFFIX, max_tokens: 40, stop: [STOP] }),
        );
        const out = streamed(res);
        const want = await reference(ref, 40, [STOP]);
        assert.ok(want.length > 0 && want.length < 20, `the stop must hit early: ${JSON.stringify(want)}`);
        assert.deepEqual(out.text, [want]);
        assert.deepEqual(out.finish, ['stop']);
        const seen = sim.lastRequest();
        assert.ok(seen !== undefined);
        row.wire(seen);
        if (row.simTemplate !== undefined)
          assert.equal(
            sim.stats().fim_templates?.[row.simTemplate],
            fimBefore + 1,
            'the gateway built the FIM prompt',
          );
      });

      it('Copilot stream without a stop: max_tokens ends it with finish_reason length', async () => {
        const res = await h2request(
          session,
          '/v1/engines/main/completions',
          copilotBody({ prompt: PROMPT, suffix: SUFFIX, max_tokens: 3, stop: [] }),
        );
        const out = streamed(res);
        assert.deepEqual(out.text, [await reference(ref, 3, [])]);
        assert.deepEqual(out.finish, ['length']);
      });

      it('OpenAI /v1/completions, streamed and as one JSON body, two choices', async () => {
        const want = await reference(ref, 40, [STOP]);
        const payload = {
          model: 'main',
          prompt: PROMPT,
          suffix: SUFFIX,
          max_tokens: 40,
          temperature: 0,
          stop: STOP,
          n: 2,
        };
        const s = streamed(
          await h2request(session, '/v1/completions', JSON.stringify({ ...payload, stream: true })),
        );
        assert.deepEqual(s.text, [want, want]);
        assert.deepEqual(s.finish, ['stop', 'stop']);

        const res = await h2request(
          session,
          '/v1/completions',
          JSON.stringify({ ...payload, stream: false }),
        );
        assert.equal(res.status, 200, res.body);
        assert.match(String(res.headers['content-type']), /application\/json/);
        const json = JSON.parse(res.body) as { object: string; model: string; choices: Choice[] };
        assert.equal(json.object, 'text_completion');
        assert.equal(json.model, 'main');
        assert.deepEqual(
          json.choices.map((c) => [c.index, c.text, c.finish_reason]),
          [
            [0, want, 'stop'],
            [1, want, 'stop'],
          ],
        );
      });

      it('a server that ignores the stop: the gateway cuts the text and cancels the generation', async () => {
        faultSim.resetStats();
        const want = await reference(ref, 60, [STOP]);
        const res = await h2request(
          session,
          '/v1/completions',
          JSON.stringify({ model: 'nostop', prompt: PROMPT, suffix: SUFFIX, max_tokens: 60, stop: [STOP] }),
        );
        assert.equal(res.status, 200, res.body);
        const json = JSON.parse(res.body) as { choices: Choice[] };
        assert.deepEqual(
          json.choices.map((c) => [c.text, c.finish_reason]),
          [[want, 'stop']],
        );

        const out = streamed(
          await h2request(
            session,
            '/v1/engines/nostop/completions',
            copilotBody({ prompt: PROMPT, suffix: SUFFIX, max_tokens: 60, stop: [STOP] }),
          ),
        );
        const text = out.text[0] ?? '';
        if (row.sameFormat) {
          // Watched pass-through holds nothing back (ScanOut): the part of a stop split over two
          // events that came first has already gone out when the rest arrives.
          assert.ok(text.startsWith(want) && STOP.startsWith(text.slice(want.length)), JSON.stringify(text));
        } else assert.equal(text, want);
        assert.deepEqual(out.finish, ['stop']);
        await eventually(() => faultSim.stats().active === 0, 3000, 'the simulator idle');
        assert.equal(faultSim.stats().cancelled, 2, JSON.stringify(faultSim.stats()));
      });

      it("an upstream error mid-stream: the client's stream ends with the gateway's error event", async () => {
        // The error comes after 3 tokens, before the stop would: the stop only makes the gateway read the stream.
        const res = await h2request(
          session,
          '/v1/engines/errs/completions',
          copilotBody({ prompt: PROMPT, suffix: SUFFIX, max_tokens: 40, stop: [STOP] }),
        );
        assert.equal(res.status, 200, res.body);
        const events = sseEvents(res.body);
        const last = events.at(-1) as { error?: { code?: string } };
        assert.equal(last.error?.code, 'GW_UPSTREAM_ERROR', res.body);
        assert.ok(!events.includes('[DONE]'));
        const text = events
          .slice(0, -1)
          .flatMap((e) => (e as { choices?: Choice[] }).choices ?? [])
          .map((c) => c.text)
          .join('');
        assert.ok(
          (await reference(ref, 40, [])).startsWith(text),
          `a prefix of the completion: ${JSON.stringify(text)}`,
        );

        // Before the client has a byte, the same failure is the gateway's JSON error.
        const json = await h2request(
          session,
          '/v1/completions',
          JSON.stringify({ model: 'errs', prompt: PROMPT, max_tokens: 40, stream: false }),
        );
        assert.equal(json.status, 502, json.body);
        assert.equal((JSON.parse(json.body) as { error: { code: string } }).error.code, 'GW_UPSTREAM_ERROR');

        if (row.sameFormat) {
          // Pure pass-through (no stop, no suffix, nothing to enforce): the gateway does not read
          // the stream, so the server's own in-band error reaches the client as it sent it.
          const raw = await h2request(
            session,
            '/v1/engines/errs/completions',
            copilotBody({ prompt: PROMPT, suffix: undefined, max_tokens: 40, stop: [] }),
          );
          assert.equal(raw.status, 200, raw.body);
          const errors = sseEvents(raw.body).filter(
            (e) => typeof e === 'object' && e !== null && 'error' in e,
          );
          assert.equal(errors.length, 1, raw.body);
        }
      });

      it('a client reset mid-stream cancels the generation upstream', async () => {
        sim.resetStats();
        await resetAfterFirstChunk(
          session,
          '/v1/engines/main/completions',
          copilotBody({ prompt: PROMPT, suffix: SUFFIX, max_tokens: 60, stop: [] }),
        );
        await eventually(
          () => sim.stats().cancelled === 1 && sim.stats().active === 0,
          3000,
          'the cancel upstream',
        );
        const s = sim.stats();
        assert.equal(s.completed, 0, JSON.stringify(s));
        assert.ok(s.tokens_after_cancel <= 1, `tokens_after_cancel ${s.tokens_after_cancel}`);
      });
    });
  }
});
