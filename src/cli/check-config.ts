import { readFileSync } from 'node:fs';
import { ConfigError, loadConfigFile } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { RuleSet } from '../policy/rules/index.js';
import type { RuleIdentity } from '../policy/rules/match.js';
import { CLIENT_PROTOCOLS, openaiOrTabby, tabbyProtocol } from '../protocol/client/index.js';
import type { CompletionRequest } from '../protocol/model.js';
import { completionProtocol, decodeEngine } from '../server/gateway.js';
import { parseFlags, str, strs, UsageError } from './args.js';
import { HELP } from './help.js';

const FLAGS = {
  config: { type: 'string' },
  request: { type: 'string' },
  path: { type: 'string' },
  header: { type: 'string', short: 'H', multiple: true },
  body: { type: 'string' },
  'body-file': { type: 'string' },
  uid: { type: 'string' },
  sku: { type: 'string' },
  org: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Sample files larger than this are not a request body anyone sends to a completion route. */
const MAX_SAMPLE_BYTES = 4 * 1024 * 1024;

/** A request to try the rules on, as given on the command line or in a `--request` file. */
interface Sample {
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  identity: RuleIdentity | undefined;
}

/** The fields rules may change, shown (by the names rules use) when they did. */
const SHOWN_FIELDS = [
  ['model', 'model'],
  ['max_tokens', 'maxTokens'],
  ['temperature', 'temperature'],
  ['top_p', 'topP'],
  ['n', 'n'],
  ['stop', 'stop'],
  ['seed', 'seed'],
  ['logprobs', 'logprobs'],
  ['logit_bias', 'logitBias'],
] as const;

/** What check-config found, in `--json` form too. */
interface Report {
  config: string;
  valid: true;
  deployments: number;
  models: number;
  rules: number;
  sample?: {
    path: string;
    protocol: string;
    fired: readonly string[];
    rejected?: { status: number; code: string; message: string };
    model?: { asked: string | undefined; resolved: string | undefined; deployments: readonly string[] };
    changed?: Record<string, { from: unknown; to: unknown }>;
    body?: Record<string, unknown>;
  };
}

/**
 * `ghostwire check-config`: validates a config file as `serve` would and, for a sample request,
 * shows which rewrite rules fire and what they make of the request. Exit 0 valid, 1 the sample
 * request is one the gateway would refuse before its rules, 2 invalid config or usage.
 */
export function checkConfigCommand(argv: string[], out: NodeJS.WritableStream): number {
  const flags = parseFlags(argv, FLAGS);
  if (flags.values.help === true) {
    out.write(HELP['check-config']);
    return 0;
  }
  if (flags.positionals.length > 0) throw new UsageError(`unexpected argument "${flags.positionals[0]}"`);
  const file = str(flags, 'config');
  if (file === undefined) throw new UsageError('--config FILE is required');
  const json = flags.values.json === true;
  let cfg: GatewayConfig;
  try {
    cfg = loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (json) out.write(`${JSON.stringify({ config: file, valid: false, problems: err.problems })}\n`);
    else process.stderr.write(`ghostwire: invalid config ${err.message}\n`);
    return 2;
  }
  const report: Report = {
    config: file,
    valid: true,
    deployments: cfg.deployments.length,
    models: cfg.models.length,
    rules: cfg.policy.rules.length,
  };
  const sample = readSample(flags, cfg);
  if (sample !== undefined) {
    try {
      report.sample = trySample(cfg, sample);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      // The gateway would answer this before any rule runs: say so, as the client would read it.
      const msg = `the sample request is refused before rules run: ${err.status} ${err.code} ${err.message}`;
      if (json)
        out.write(
          `${JSON.stringify({ ...report, sampleError: { status: err.status, code: err.code, message: err.message } })}\n`,
        );
      else process.stderr.write(`ghostwire check-config: ${msg}\n`);
      return 1;
    }
  }
  out.write(json ? `${JSON.stringify(report)}\n` : describe(report));
  return 0;
}

/** The sample request from `--request FILE` and the flags (flags win), or undefined when none is given. */
function readSample(flags: ReturnType<typeof parseFlags>, cfg: GatewayConfig): Sample | undefined {
  const requestFile = str(flags, 'request');
  const path = str(flags, 'path');
  const headers = strs(flags, 'header');
  const bodyText = str(flags, 'body');
  const bodyFile = str(flags, 'body-file');
  const uid = str(flags, 'uid');
  const sku = str(flags, 'sku');
  const org = str(flags, 'org');
  if (bodyText !== undefined && bodyFile !== undefined)
    throw new UsageError('give --body or --body-file, not both');
  const given =
    [requestFile, path, bodyText, bodyFile, uid, sku, org].some((v) => v !== undefined) || headers.length > 0;
  if (!given) return undefined;

  const base = requestFile === undefined ? {} : objectOf(readJson(requestFile), requestFile);
  const fromFile = (key: string): unknown => base[key];
  const sample: Sample = {
    // The gateway routes on the path without its query string.
    path: (path ?? stringOf(fromFile('path'), `${requestFile}: "path"`) ?? defaultPath(cfg)).split(
      '?',
    )[0] as string,
    headers: {},
    body: {},
    identity: undefined,
  };
  const fileHeaders = fromFile('headers');
  if (fileHeaders !== undefined)
    for (const [k, v] of Object.entries(objectOf(fileHeaders, `${requestFile}: "headers"`)))
      sample.headers[k.toLowerCase()] = String(v);
  for (const h of headers) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header expects "Name: value", got "${h}"`);
    sample.headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const body =
    bodyText !== undefined
      ? parseJson(bodyText, '--body')
      : bodyFile !== undefined
        ? readJson(bodyFile)
        : (fromFile('body') ?? { prompt: 'def f(', max_tokens: 64, stream: true });
  sample.body = objectOf(body, 'the sample body');
  const user = fromFile('user') === undefined ? {} : objectOf(fromFile('user'), `${requestFile}: "user"`);
  const id = {
    uid: uid ?? stringOf(user.uid, 'user.uid'),
    sku: sku ?? stringOf(user.sku, 'user.sku'),
    org: org ?? stringOf(user.org, 'user.org'),
  };
  if (id.uid !== undefined || id.sku !== undefined || id.org !== undefined)
    sample.identity = { uid: id.uid ?? 'check-config', sku: id.sku ?? 'free', org: id.org };
  return sample;
}

/** Copilot's route for the first configured model: the usual request. */
function defaultPath(cfg: GatewayConfig): string {
  const name = cfg.models.find((m) => m.name !== '*')?.name ?? 'default';
  return `/v1/engines/${encodeURIComponent(name)}/completions`;
}

/** Decodes the sample as the gateway would and runs the rules on it. */
function trySample(cfg: GatewayConfig, s: Sample): NonNullable<Report['sample']> {
  const choice = completionProtocol(s.path, openaiOrTabby(tabbyProtocol(cfg.protocols.tabby)));
  if (choice === undefined)
    throw new UsageError(
      `--path ${s.path} is not a completion route (/v1/engines/<engine>/completions, /v1/completions, /v1/fim/completions)`,
    );
  let engine: string | undefined;
  if (choice(s.body) === CLIENT_PROTOCOLS.copilot) {
    engine = decodeEngine(s.path.slice('/v1/engines/'.length, -'/completions'.length));
    if (engine === undefined) throw new GatewayError('GW_NOT_FOUND');
  }
  const protocol = choice(s.body);
  const raw = Buffer.from(JSON.stringify(s.body));
  const client = {
    editor: s.headers['editor-version'],
    plugin: s.headers['editor-plugin-version'],
    session: s.headers['vscode-sessionid'],
  };
  const req = protocol.decode({ body: s.body, raw, engine, client });
  const rules = cfg.policy.rules.length === 0 ? undefined : new RuleSet(cfg.policy.rules);
  const outcome = rules?.apply(req, protocol.name, { path: s.path, header: (n) => s.headers[n] }, s.identity);
  const result: NonNullable<Report['sample']> = {
    path: s.path,
    protocol: protocol.name,
    fired: outcome?.fired ?? [],
  };
  if (outcome?.reject !== undefined) {
    const e = outcome.reject;
    result.rejected = { status: e.status, code: e.code, message: e.message };
    return result;
  }
  const after = outcome?.req ?? req;
  const model = resolveModel(cfg, after.model);
  result.model = { asked: after.model, resolved: model?.name, deployments: model?.deployments ?? [] };
  result.changed = changes(req, after);
  result.body = after.body;
  return result;
}

/** The configured model a name reaches (its name, an alias, or the `*` model), as the registry resolves it. */
function resolveModel(
  cfg: GatewayConfig,
  name: string | undefined,
): { name: string; deployments: readonly string[] } | undefined {
  if (name === undefined) return undefined;
  const m =
    cfg.models.find((x) => x.name === name || x.aliases.includes(name)) ??
    cfg.models.find((x) => x.name === '*');
  return m === undefined ? undefined : { name: m.name === '*' ? name : m.name, deployments: m.deployments };
}

function changes(
  before: CompletionRequest,
  after: CompletionRequest,
): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const [name, k] of SHOWN_FIELDS)
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) out[name] = { from: before[k], to: after[k] };
  return out;
}

function describe(r: Report): string {
  let text = `${r.config}: valid (${r.deployments} deployment(s), ${r.models} model(s), ${r.rules} rewrite rule(s))\n`;
  const s = r.sample;
  if (s === undefined) return text;
  text += `\nsample request: POST ${s.path} (${s.protocol} protocol)\n`;
  text += `rules fired: ${s.fired.length === 0 ? 'none' : s.fired.join(', ')}\n`;
  if (s.rejected !== undefined) {
    text += `rejected: ${s.rejected.status} ${s.rejected.code}: ${s.rejected.message}\n`;
    return text;
  }
  if (s.model !== undefined)
    text +=
      s.model.resolved === undefined
        ? `model: ${s.model.asked ?? '(none)'} is not configured: the client gets GW_UNKNOWN_MODEL\n`
        : `model: ${s.model.resolved} (deployments: ${s.model.deployments.join(', ')})\n`;
  const changed = Object.entries(s.changed ?? {});
  if (changed.length > 0) {
    text += 'changed:\n';
    for (const [k, { from, to }] of changed) text += `  ${k}: ${show(from)} -> ${show(to)}\n`;
  }
  text += `request body after the rules:\n${JSON.stringify(s.body, null, 2)}\n`;
  return text;
}

const show = (v: unknown): string => (v === undefined ? '(none)' : JSON.stringify(v));

function readJson(file: string): unknown {
  let text: string;
  try {
    const buf = readFileSync(file);
    if (buf.length > MAX_SAMPLE_BYTES)
      throw new UsageError(`${file} is larger than ${MAX_SAMPLE_BYTES} bytes`);
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseJson(text, file);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${what} is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

function objectOf(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new UsageError(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

function stringOf(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`${what} must be a string`);
  return v;
}
