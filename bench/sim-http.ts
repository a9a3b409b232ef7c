// Small requests to a simulator's own routes (/stats, /stats/reset, /stats/cancels) for the
// benchmarks: HTTP/1.1, a fresh connection each (never one of the measured ones), bounded wait.
import http from 'node:http';
import type { SimulatorStats } from '../src/simulator/index.js';

/** `method url`; resolves with the body of a 200, rejects on anything else or after 5 s. */
export function simRequest(method: 'GET' | 'POST', url: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const req = http.request(url, { method, agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () =>
        res.statusCode === 200
          ? resolvePromise(text)
          : reject(new Error(`${method} ${url}: ${res.statusCode} ${text.slice(0, 200)}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The simulator's counters (GET /stats) at `simUrl` (http://host:port). */
export async function simStats(simUrl: string): Promise<SimulatorStats> {
  return JSON.parse(await simRequest('GET', `${simUrl}/stats`)) as SimulatorStats;
}
