import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/server/gateway.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { copilotBody, h1request, h2connect, h2request, type Received } from '../helpers/clients.js';
import { gatewayFor } from '../helpers/gateway.js';

const UPSTREAM_KEY = 'sk-upstream-SECRET-0123456789';
const AZURE_KEY = 'azure-SECRET-abcdef';
const CLIENT_TOKEN = 'client-credential-XYZ-987';

/** Everything the client saw, as one string to search. */
function wire(res: Received): string {
  return JSON.stringify(res.headers) + res.body;
}

describe('the upstream key is added on the upstream leg only and never reaches a client', () => {
  let sim: Simulator;
  let gw: Gateway;

  before(async () => {
    sim = await startSimulator({ ttftMs: 1, tokenMs: 1, maxTokens: 4 });
    process.env.GW_TEST_AZURE_KEY = AZURE_KEY;
    gw = await gatewayFor({
      deployments: [
        {
          name: 'bearer',
          url: `h2c://127.0.0.1:${sim.port}`,
          credential: { type: 'bearer', token: UPSTREAM_KEY },
        },
        {
          name: 'azure',
          url: `http://127.0.0.1:${sim.port}`,
          credential: { type: 'header', header: 'api-key', value: { env: 'GW_TEST_AZURE_KEY' } },
        },
      ],
      models: [
        { name: 'default', deployments: ['bearer'] },
        { name: 'az', deployments: ['azure'] },
      ],
    });
  });
  after(async () => {
    await gw.close(100);
    await sim.close();
    delete process.env.GW_TEST_AZURE_KEY;
  });

  it('bearer key reaches the upstream; the client credential does not', async () => {
    const session = await h2connect(gw.urls[0] as string);
    try {
      const res = await h2request(session, '/v1/engines/default/completions', copilotBody(), {
        authorization: `Bearer ${CLIENT_TOKEN}`,
      });
      assert.equal(res.status, 200);
      const seen = sim.lastRequest();
      assert.equal(seen?.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
      assert.ok(!JSON.stringify(seen).includes(CLIENT_TOKEN), 'client credential never forwarded');
      assert.ok(!wire(res).includes(UPSTREAM_KEY));
    } finally {
      session.close();
    }
  });

  it('api-key header (Azure style) from an env var reaches the upstream over HTTP/1.1', async () => {
    const res = await h1request(gw.urls[0] as string, '/v1/engines/az/completions', copilotBody());
    assert.equal(res.status, 200, res.body);
    assert.equal(sim.lastRequest()?.headers['api-key'], AZURE_KEY);
    assert.equal(sim.lastRequest()?.headers.authorization, undefined);
    assert.ok(!wire(res).includes(AZURE_KEY));
  });

  it('no response of any kind (ok, 4xx, 5xx, mid-stream error) contains a key', async () => {
    const session = await h2connect(gw.urls[0] as string);
    try {
      const responses = [
        await h2request(session, '/v1/engines/default/completions', copilotBody()),
        await h2request(session, '/v1/engines/nope/completions', copilotBody()),
        await h2request(session, '/v1/engines/default/completions', '{bad'),
        await h2request(
          session,
          '/v1/completions',
          JSON.stringify({ model: 'az', prompt: 'x', stream: false }),
        ),
        await h2request(session, '/nope', undefined, {}, 'GET'),
      ];
      for (const res of responses) {
        for (const secret of [UPSTREAM_KEY, AZURE_KEY, CLIENT_TOKEN])
          assert.ok(!wire(res).includes(secret), `leak in ${res.status}`);
      }
    } finally {
      session.close();
    }
  });
});
