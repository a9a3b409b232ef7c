import { displayUrl, smallRequest } from './http-get.js';
import type { AuthSource } from './options.js';

/** Where every request's `Authorization` comes from for the length of a run. */
export interface TokenSource {
  /** The header value now, or undefined for a target with auth off. */
  authorization(): string | undefined;
  /** Stops refreshing. */
  close(): void;
}

/** The gateway refused the credential or could not be asked: the run cannot start (exit 1). */
export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

/** Clients refresh `refresh_in - 60` s after issue, or when under 5 minutes remain (docs/protocols.md). */
const REFRESH_EARLY_S = 60;
const MIN_REMAINING_S = 300;

/** Resolves the configured auth into a token source; exchanges or mints the first token before returning. */
export async function tokenSource(auth: AuthSource, url: string, insecure: boolean): Promise<TokenSource> {
  switch (auth.kind) {
    case 'none':
      return { authorization: () => undefined, close() {} };
    case 'token': {
      const value = `Bearer ${auth.token}`;
      return { authorization: () => value, close() {} };
    }
    case 'key':
      return KeyExchange.start(url, auth.key, insecure);
    case 'config':
      return mintFromConfig(auth.file, auth.uid, url);
  }
}

interface Issued {
  token: string;
  expiresAt: number;
  refreshIn: number;
}

/** A key exchanged for a token like a Copilot client does it, and again before the token runs out. */
class KeyExchange implements TokenSource {
  #value: string;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly insecure: boolean,
    first: Issued,
  ) {
    this.#value = `Bearer ${first.token}`;
    this.#schedule(first);
  }

  static async start(url: string, key: string, insecure: boolean): Promise<KeyExchange> {
    const first = await exchange(url, key, insecure);
    return new KeyExchange(url, key, insecure, first);
  }

  authorization(): string {
    return this.#value;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(issued: Issued): void {
    const nowS = Date.now() / 1000;
    const byRefresh = issued.refreshIn - REFRESH_EARLY_S;
    const byExpiry = issued.expiresAt - nowS - MIN_REMAINING_S;
    const inS = Math.max(5, Math.min(byRefresh, byExpiry));
    this.#timer = setTimeout(() => void this.#refresh(), inS * 1000);
    this.#timer.unref(); // a refresh never keeps a finished run alive
  }

  async #refresh(): Promise<void> {
    try {
      const issued = await exchange(this.url, this.key, this.insecure);
      if (this.#closed) return;
      this.#value = `Bearer ${issued.token}`;
      this.#schedule(issued);
    } catch {
      // Keep the current token; requests show GW_TOKEN_EXPIRED in the summary if it runs out.
      if (!this.#closed) this.#schedule({ token: '', expiresAt: Date.now() / 1000 + 60, refreshIn: 65 });
    }
  }
}

async function exchange(url: string, key: string, insecure: boolean): Promise<Issued> {
  const tokenUrl = new URL('/copilot_internal/v2/token', url).href;
  let reply;
  try {
    reply = await smallRequest('GET', tokenUrl, {
      headers: {
        authorization: `token ${key}`,
        'editor-version': 'vscode/1.95.0',
        'editor-plugin-version': 'copilot/1.250.0',
      },
      insecure,
    });
  } catch (err) {
    throw new AuthError(
      `cannot exchange the key at ${displayUrl(tokenUrl)}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(reply.body);
  } catch {
    body = undefined;
  }
  const o = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  if (reply.status !== 200 || typeof o.token !== 'string') {
    const err = o.error as { code?: unknown; message?: unknown } | undefined;
    const why =
      typeof err?.code === 'string' ? `${err.code}: ${String(err.message)}` : reply.body.slice(0, 200);
    throw new AuthError(
      `the key was refused at ${displayUrl(tokenUrl)} (HTTP ${reply.status}) ${why}`.trim(),
    );
  }
  const nowS = Date.now() / 1000;
  return {
    token: o.token,
    expiresAt: typeof o.expires_at === 'number' ? o.expires_at : nowS + 1800,
    refreshIn: typeof o.refresh_in === 'number' ? o.refresh_in : 1500,
  };
}

/** Tokens signed locally with the gateway's own keys (like `ghostwire token mint`), re-minted before expiry. */
async function mintFromConfig(file: string, uid: string, url: string): Promise<TokenSource> {
  // Loaded only here: the schema and YAML parser are not needed by any other kind of run.
  const [{ loadConfigFile }, { keyRingFromConfig, mintToken }] = await Promise.all([
    import('../config/load.js'),
    import('../auth/token/index.js'),
  ]);
  const cfg = loadConfigFile(file);
  if (cfg.auth.mode === 'none') return { authorization: () => undefined, close() {} };
  const ring = keyRingFromConfig(cfg.auth);
  const user =
    cfg.auth.verifier?.type === 'static' ? cfg.auth.verifier.users.find((u) => u.uid === uid) : undefined;
  const lifetimeS = cfg.auth.tokens.lifetimeS;
  const proxyEp = new URL(url).host;
  const mint = (): { value: string; expiresAt: number } => {
    const minted = mintToken({
      ring,
      identity: {
        uid,
        login: user?.login ?? uid,
        sku: user?.sku ?? 'copilot_enterprise_seat',
        org: user?.org,
      },
      lifetimeS,
      nowS: Date.now() / 1000,
      proxyEp,
      flags: cfg.auth.tokens.flags,
    });
    return { value: `Bearer ${minted.token}`, expiresAt: minted.expiresAt };
  };
  let current = mint();
  return {
    authorization: () => {
      if (current.expiresAt - Date.now() / 1000 < Math.min(MIN_REMAINING_S, lifetimeS / 2)) current = mint();
      return current.value;
    },
    close() {},
  };
}
