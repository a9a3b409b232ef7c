// The config worker's side (see isolated.ts): loads and validates in its own heap, answers with
// plain data. One request at a time, in order; it exits when the main thread terminates it.
import { parentPort } from 'node:worker_threads';
import { ConfigError } from './errors.js';
import { loadConfigFile, validateConfig } from './load.js';
import type { ConfigReply, ConfigRequest } from './isolated.js';

const port = parentPort;
if (port === null) throw new Error('config/worker.js runs only as a worker thread');

port.on('message', (req: ConfigRequest) => {
  let reply: ConfigReply;
  try {
    const config = req.kind === 'load' ? loadConfigFile(req.file) : validateConfig(req.value, req.source);
    reply = { id: req.id, ok: true, config };
  } catch (err) {
    reply =
      err instanceof ConfigError
        ? {
            id: req.id,
            ok: false,
            problems: err.problems,
            source: req.kind === 'load' ? req.file : req.source,
          }
        : {
            id: req.id,
            ok: false,
            message: err instanceof Error ? err.message : String(err),
            code: (err as NodeJS.ErrnoException).code,
          };
  }
  port.postMessage(reply);
});
