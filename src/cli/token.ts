import { listRevoked, revoke, unrevoke } from '../auth/revocation/index.js';
import { inspectToken, keyRingFromConfig, mintToken, type KeyRing } from '../auth/token/index.js';
import { ConfigError, loadConfigFile } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { intFlag, parseFlags, str, UsageError } from './args.js';
import { HELP } from './help.js';

const FLAGS = {
  config: { type: 'string' },
  uid: { type: 'string' },
  tid: { type: 'string' },
  sku: { type: 'string' },
  org: { type: 'string' },
  login: { type: 'string' },
  'lifetime-s': { type: 'string' },
  'proxy-ep': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * `ghostwire token <mint|inspect|revoke|unrevoke|revoked>`: the operator's and load tester's view
 * of gateway tokens, from the same config the gateway runs with. Never prints a signing secret.
 */
export async function tokenCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  const [sub, ...args] = flags.positionals;
  if (flags.values.help === true || sub === undefined) {
    out.write(HELP.token);
    return sub === undefined && flags.values.help !== true ? 2 : 0;
  }
  const configFile = str(flags, 'config');
  const config = (): GatewayConfig => {
    if (configFile === undefined)
      throw new UsageError(`token ${sub} needs --config FILE (the gateway's config)`);
    const cfg = loadConfigFile(configFile);
    if (cfg.auth.mode === 'none')
      throw new UsageError(`${configFile} has auth.mode none: there are no tokens`);
    return cfg;
  };
  try {
    switch (sub) {
      case 'mint':
        return mint(config(), flags, out);
      case 'inspect':
        return inspect(args, configFile === undefined ? undefined : config(), out);
      case 'revoke':
      case 'unrevoke':
        return await changeRevocation(sub, config(), flags, out);
      case 'revoked':
        return await printRevoked(config(), out);
      default:
        throw new UsageError(`unknown subcommand "${sub}" (mint, inspect, revoke, unrevoke, revoked)`);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ghostwire: invalid config ${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError) throw err;
    // Bad secrets, unreachable Redis: the message names the problem, never a secret.
    process.stderr.write(`ghostwire token ${sub}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function ring(cfg: GatewayConfig): KeyRing {
  return keyRingFromConfig(cfg.auth);
}

/** Mints a token for a uid; a static user's sku/org are used unless given, and a disabled one is refused. */
function mint(cfg: GatewayConfig, flags: ReturnType<typeof parseFlags>, out: NodeJS.WritableStream): number {
  const uid = str(flags, 'uid');
  if (uid === undefined) throw new UsageError('token mint needs --uid');
  const user =
    cfg.auth.verifier?.type === 'static' ? cfg.auth.verifier.users.find((u) => u.uid === uid) : undefined;
  if (user?.disabled === true) {
    process.stderr.write(`ghostwire token mint: user "${uid}" is disabled in the config\n`);
    return 1;
  }
  const lifetimeS = intFlag(str(flags, 'lifetime-s'), 'lifetime-s', 1, 86_400) ?? cfg.auth.tokens.lifetimeS;
  const publicUrl = cfg.auth.tokens.publicUrl;
  const proxyEp =
    str(flags, 'proxy-ep') ??
    (publicUrl !== undefined
      ? new URL(publicUrl).host
      : `${cfg.listeners[0]?.host ?? '127.0.0.1'}:${cfg.listeners[0]?.port ?? 8080}`);
  const minted = mintToken({
    ring: ring(cfg),
    identity: {
      uid,
      login: str(flags, 'login') ?? user?.login ?? uid,
      sku: str(flags, 'sku') ?? user?.sku ?? 'copilot_enterprise_seat',
      org: str(flags, 'org') ?? user?.org,
    },
    lifetimeS,
    nowS: Date.now() / 1000,
    proxyEp,
    flags: cfg.auth.tokens.flags,
  });
  if (flags.values.json === true)
    out.write(JSON.stringify({ token: minted.token, tid: minted.tid, expires_at: minted.expiresAt }) + '\n');
  else out.write(minted.token + '\n');
  return 0;
}

/** Decodes a token; with --config also verifies it against that config's keys. Exit 0 only if it verifies. */
function inspect(args: string[], cfg: GatewayConfig | undefined, out: NodeJS.WritableStream): number {
  const raw = args[0];
  if (raw === undefined || args.length > 1) throw new UsageError('token inspect takes exactly one token');
  const nowS = Math.floor(Date.now() / 1000);
  if (cfg === undefined) {
    // Without keys nothing can be verified; still show what the token claims, bounded.
    const colon = raw.indexOf(':');
    const fields = (colon < 0 ? raw : raw.slice(0, colon)).slice(0, 4096).split(';').slice(0, 64);
    for (const f of fields) out.write(`  ${JSON.stringify(f)}\n`);
    out.write('verdict: not verified (pass --config to check the signature)\n');
    return 1;
  }
  const r = inspectToken(raw, ring(cfg), nowS, { clockSkewS: cfg.auth.tokens.clockSkewS });
  // JSON-quoted: a pasted token may hold control characters that would rewrite the terminal.
  for (const f of r.fields) out.write(`  ${JSON.stringify(f.key)} = ${JSON.stringify(f.value)}\n`);
  if (r.kid !== undefined) out.write(`key: ${r.kid} (${r.keyStatus ?? 'unknown'})\n`);
  if (r.expiresInS !== undefined)
    out.write(r.expiresInS >= 0 ? `expires in ${r.expiresInS} s\n` : `expired ${-r.expiresInS} s ago\n`);
  out.write(r.verdict.ok ? 'verdict: valid\n' : `verdict: ${r.verdict.code} (${r.verdict.reason})\n`);
  return r.verdict.ok ? 0 : 1;
}

function redisOf(cfg: GatewayConfig): { url: string; keyPrefix: string } {
  const redis = cfg.auth.revocation.redis;
  if (redis === undefined)
    throw new UsageError(
      'auth.revocation.redis is not configured: add ids to auth.revocation in the config instead',
    );
  return redis;
}

async function changeRevocation(
  sub: 'revoke' | 'unrevoke',
  cfg: GatewayConfig,
  flags: ReturnType<typeof parseFlags>,
  out: NodeJS.WritableStream,
): Promise<number> {
  const tid = str(flags, 'tid');
  const uid = str(flags, 'uid');
  if (tid === undefined && uid === undefined) throw new UsageError(`token ${sub} needs --tid and/or --uid`);
  const { url, keyPrefix } = redisOf(cfg);
  const target = { ...(tid === undefined ? {} : { tid }), ...(uid === undefined ? {} : { uid }) };
  const changed = await (sub === 'revoke' ? revoke : unrevoke)(url, keyPrefix, target);
  out.write(`${sub}d: ${changed} id(s) changed; every gateway instance applies it within a second\n`);
  return 0;
}

async function printRevoked(cfg: GatewayConfig, out: NodeJS.WritableStream): Promise<number> {
  const { url, keyPrefix } = redisOf(cfg);
  const list = await listRevoked(url, keyPrefix);
  out.write(
    JSON.stringify({ ...list, config: cfg.auth.revocation }, ['tokenIds', 'uids', 'config'], 2) + '\n',
  );
  return 0;
}
