// Pins down stickiness across processes (issue 7, item 2): two separate `ghostwire serve`
// processes with the same config put every user in the same arm (nothing in the assignment
// depends on process state such as a random seed or start order), and it is the arm the
// documented hash gives.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bucketOf, unitHashOf } from '../../src/policy/experiments.js';
import { copilotBody, h2connect, h2request } from '../helpers/clients.js';
import { fakeH2Upstream, sseChunk, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startCli, type Running } from '../helpers/spawn.js';

const SESSIONS = 40;

describe('experiments: the same arm in every process', () => {
  let upstream: FakeUpstream;
  let dir: string;
  const procs: Running[] = [];
  const sessions: http2.ClientHttp2Session[] = [];

  before(async () => {
    upstream = await fakeH2Upstream((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      stream.end(`${sseChunk('ok', 'stop')}data: [DONE]\n\n`);
    });
    dir = await mkdtemp(join(tmpdir(), 'gw-exp-'));
    const file = join(dir, 'ghostwire.json');
    await writeFile(
      file,
      JSON.stringify({
        listeners: [{ host: '127.0.0.1', port: 0 }],
        auth: { mode: 'none' },
        deployments: [{ name: 'up', url: upstream.url }],
        models: [{ name: 'default', deployments: ['up'] }],
        policy: {
          experiments: [
            {
              name: 'ranker',
              arms: [
                { name: 'a', weight: 1 },
                { name: 'b', weight: 2 },
                { name: 'c', weight: 3 },
              ],
            },
          ],
        },
      }),
    );
    for (let i = 0; i < 2; i++) {
      const p = await startCli(['serve', '--config', file]);
      procs.push(p);
      sessions.push(await h2connect(p.url));
    }
  });
  after(async () => {
    for (const s of sessions) s.close();
    await Promise.all(procs.map((p) => p.stop()));
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('each session gets the same arm from both processes, the one the hash gives', async () => {
    const expected = (id: string): string => {
      const u = bucketOf(unitHashOf(id), 'ranker');
      return u < 1 / 6 ? 'a' : u < 3 / 6 ? 'b' : 'c';
    };
    const seen = new Set<string>();
    for (let s = 0; s < SESSIONS; s++) {
      const id = `session-${s}`;
      const arms: unknown[] = [];
      for (const session of sessions) {
        const res = await h2request(session, '/v1/engines/default/completions', copilotBody(), {
          'vscode-sessionid': id,
        });
        assert.equal(res.status, 200, res.body);
        arms.push(res.headers['x-ghostwire-experiment']);
      }
      assert.deepEqual(arms, [`ranker=${expected(id)}`, `ranker=${expected(id)}`], id);
      seen.add(String(arms[0]));
    }
    assert.equal(seen.size, 3, 'every arm had sessions');
  });
});
