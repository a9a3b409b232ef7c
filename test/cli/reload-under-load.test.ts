// Pins down hot reload under load (issue 7, "a reload under load drops zero requests"): a real
// `ghostwire serve --config F --watch` process serves a steady stream of completions over
// HTTP/2 and HTTP/1.1 keep-alive connections while its config is rewritten (the file watch) and
// SIGHUP'd, switching the model between two deployments, and once replaced by a broken file.
// Every request must succeed whole, no client connection may be closed, both deployments must
// have served, and the broken file must be refused with the old config kept.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, eventually, h2connect, h2request, sleep } from '../helpers/clients.js';
import { startCli, type Running } from '../helpers/spawn.js';

const PATH = '/v1/engines/default/completions';
/** Bounds: the load stops after this many requests or this long, whichever comes first. */
const MAX_REQUESTS = 1500;
const MAX_MS = 20_000;

describe('hot reload under load', () => {
  let a: Simulator;
  let b: Simulator;
  let dir: string;
  let file: string;
  let gw: Running | undefined;
  before(async () => {
    a = await startSimulator({ ttftMs: 2, tokenMs: 2, maxTokens: 16 });
    b = await startSimulator({ ttftMs: 2, tokenMs: 2, maxTokens: 16 });
    dir = mkdtempSync(path.join(tmpdir(), 'gw-reload-'));
    file = path.join(dir, 'ghostwire.yaml');
  });
  after(async () => {
    await gw?.stop();
    await Promise.all([a.close(), b.close()]);
  });

  /** Writes the config atomically (as editors and ConfigMaps do: a new file renamed over the old). */
  const writeConfig = (to: 'a' | 'b' | 'broken'): void => {
    const text =
      to === 'broken'
        ? 'deployments: [ { name: a, url: 12 } ]\n'
        : [
            'listeners: [{ host: 127.0.0.1, port: 0 }]',
            'auth: { mode: none }',
            'deployments:',
            `  - { name: a, url: "h2c://127.0.0.1:${a.port}" }`,
            `  - { name: b, url: "h2c://127.0.0.1:${b.port}" }`,
            'models:',
            `  - { name: default, deployments: [${to}] }`,
          ].join('\n');
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  };

  it('drops no request and no connection while the config changes under it', async () => {
    writeConfig('a');
    gw = await startCli(['serve', '--config', file, '--watch']);
    const url = gw.url;
    const session = await h2connect(url);
    let goaways = 0;
    session.on('goaway', () => goaways++);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const h1Sockets = new Set<unknown>();

    const failures: string[] = [];
    let done = 0;
    const started = Date.now();
    let stop = false;
    const body = copilotBody({ max_tokens: 16, stream: true });
    const check = (status: number, text: string, via: string): void => {
      done++;
      if (status !== 200 || !text.includes('data: [DONE]'))
        failures.push(`${via} ${status} ${text.slice(0, 120)}`);
    };
    const h2Worker = async (): Promise<void> => {
      while (!stop && done < MAX_REQUESTS && Date.now() - started < MAX_MS) {
        const r = await h2request(session, PATH, body).catch((e: Error) => ({ status: -1, body: e.message }));
        check(r.status, r.body, 'h2');
      }
    };
    const h1Worker = async (): Promise<void> => {
      while (!stop && done < MAX_REQUESTS && Date.now() - started < MAX_MS) {
        const r = await h1post(url, body, agent, h1Sockets).catch((e: Error) => ({
          status: -1,
          body: e.message,
        }));
        check(r.status, r.body, 'h1');
      }
    };
    const load = Promise.all([h2Worker(), h2Worker(), h2Worker(), h2Worker(), h1Worker(), h1Worker()]);
    try {
      const reloads = (): number => (gw?.stderr().match(/reloaded .*applied .*models/g) ?? []).length;
      // Switch the model between the deployments, by the file watch and by SIGHUP, six times.
      for (let i = 0; i < 6; i++) {
        await sleep(250);
        const seen = reloads();
        const to = i % 2 === 0 ? 'b' : 'a';
        writeConfig(to);
        if (i >= 3) gw.child.kill('SIGHUP'); // both triggers; the second finds nothing new or the same file
        await eventually(() => reloads() > seen, 5000, `reload ${i + 1} to ${to}`);
      }
      await sleep(200);
      writeConfig('broken');
      await eventually(
        () => /file changed: reload refused, still running/.test(gw?.stderr() ?? ''),
        5000,
        'refused',
      );
      await sleep(300);
    } finally {
      stop = true;
      await load;
    }
    session.close();
    agent.destroy();

    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${done} requests failed`);
    assert.ok(done >= 100, `load ran (${done} requests)`);
    assert.equal(goaways, 0, 'the HTTP/2 connection was never asked to go away');
    assert.ok(h1Sockets.size <= 2, `HTTP/1.1 keep-alive connections were kept (${h1Sockets.size} used)`);
    assert.ok(a.stats().completed > 0 && b.stats().completed > 0, 'both deployments served');
    assert.equal(a.stats().cancelled + b.stats().cancelled, 0, 'no stream was cut upstream');
    assert.match(gw.stderr(), /deployments\[0\]\.url/, "the broken file's error is logged with its path");
  });
});

/** POST on a keep-alive agent; resolves with the status and whole body. */
function h1post(
  url: string,
  body: string,
  agent: http.Agent,
  sockets: Set<unknown>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: PATH,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('socket', (socket) => sockets.add(socket));
    req.on('error', reject);
    req.end(body);
  });
}
