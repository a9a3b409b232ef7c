import type http from 'node:http';
import type http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import { AuthService } from '../auth/auth-service.js';
import { COPILOT_PATHS } from '../auth/copilot-endpoints.js';
import type { GatewayConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { CLIENT_PROTOCOLS, type ClientProtocol, type ProtocolChoice } from '../protocol/client/index.js';
import type { Policy } from '../policy/index.js';
import { RequestContext } from '../proxy/context.js';
import { respondError, respondJson } from '../proxy/respond.js';
import { Registry } from '../routing/registry.js';
import type { Router } from '../routing/router.js';
import { channels } from '../telemetry/events.js';
import { Telemetry } from '../telemetry/index.js';
import { listen, urlHost } from '../util/listen.js';
import { H1Exchange, H2Exchange, type ClientExchange } from './exchange.js';
import { Generation } from './generation.js';
import { createListenerServer, createProtocolServers } from './listeners.js';
import { reloadPlan, type ReloadResult } from './reload-plan.js';
import { applyTlsFiles, readTlsFiles } from './tls-files.js';
import { TABBY_PATHS } from './tabby-endpoints.js';

const ENGINES_PREFIX = '/v1/engines/';
const ENGINES_SUFFIX = '/completions';

/** A running gateway. */
export interface Gateway {
  /** One URL per listener, e.g. http://127.0.0.1:8080 or https://127.0.0.1:8443. */
  readonly urls: readonly string[];
  /** The current generation's (a reload replaces them; requests in flight keep theirs). */
  readonly registry: Registry;
  readonly router: Router;
  /** Rewrite rules, experiments, limits, supersession (`policy:`). */
  readonly policy: Policy;
  readonly config: GatewayConfig;
  /** Undefined with auth.mode none. */
  readonly auth: AuthService | undefined;
  /** Metrics, logs, tracing and the dashboard: built once, kept across reloads. */
  readonly telemetry: Telemetry;
  /**
   * Applies a reloaded config to new requests: deployments, models, routing, policy, protocols,
   * request limits, auth keys and settings, and TLS certificates (same files, new contents).
   * Requests in flight finish on the config they started with; no connection is dropped. What
   * cannot change without a restart (listener addresses, auth mode, Redis settings, connection
   * limits) is left as it was and named in the result. Throws, changing nothing, if the new
   * config cannot be used (a secret that cannot be read, auth keys that do not load).
   */
  reload(next: GatewayConfig): Promise<ReloadResult>;
  /** Graceful stop: readiness goes 503, GOAWAY to HTTP/2 clients, in-flight streams get `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** Starts every listener of `config` and resolves once all are bound. */
export async function startGateway(config: GatewayConfig): Promise<Gateway> {
  // The registry first: it reads upstream secrets and may throw; auth then opens Redis
  // connections, which must not be left running when start-up fails.
  const registry = await Registry.create(config);
  let auth: AuthService | undefined;
  try {
    auth = await AuthService.start(config.auth);
  } catch (err) {
    registry.destroy();
    throw err;
  }
  const telemetry = Telemetry.start(config.telemetry);
  let gen = Generation.of(config, auth, registry);
  gen.start();
  await gen.policy.start(); // the rate-limit store's connection: bounded, never rejects
  /** Generations replaced by a reload and still finishing their requests. */
  const retiring = new Set<Generation>();
  const engines = createProtocolServers(config.limits);
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  const h1Sockets = new Set<net.Socket>();
  let draining = false;

  function route(ex: ClientExchange): void {
    const ctx = new RequestContext(ex.protocol, ex.header('x-request-id'));
    ex.onAbort(() => {
      ctx.abort(new GatewayError('GW_CLIENT_CLOSED'));
      ctx.finish(499, 'client_cancel', 'GW_CLIENT_CLOSED');
    });
    // The request keeps this generation to its end, whatever a reload does meanwhile.
    const g = gen;
    const limits = g.config.limits;
    const path = ex.path;
    const protocol = completionProtocol(path, g.v1Completions);
    if (protocol !== undefined) {
      g.enter();
      ctx.onFinish(() => g.leave());
      const copilot = protocol === COPILOT;
      ctx.route = copilot ? 'engines' : path.slice(1);
      if (channels.requestStart.hasSubscribers) channels.requestStart.publish(ctx);
      if (ex.method !== 'POST') return respondError(ex, ctx, new GatewayError('GW_METHOD_NOT_ALLOWED'));
      // Before the body is read: an unauthenticated client costs a header check, nothing more.
      if (auth !== undefined) {
        const denied = auth.authenticate(ex.header('authorization'), ctx);
        if (denied !== undefined) return respondError(ex, ctx, denied);
      }
      let engine: string | undefined;
      if (copilot) {
        engine = decodeEngine(path.slice(ENGINES_PREFIX.length, path.length - ENGINES_SUFFIX.length));
        if (engine === undefined) return respondError(ex, ctx, new GatewayError('GW_NOT_FOUND'));
      }
      const deadlineMs = requestDeadlineMs(ex.header(DEADLINE_HEADER), limits);
      if (deadlineMs instanceof GatewayError) return respondError(ex, ctx, deadlineMs);
      ctx.armDeadline(deadlineMs, () => expire(ex, ctx, deadlineError(deadlineMs)), {
        ms: limits.bodyTimeoutMs,
        onExpire: () => expire(ex, ctx, new GatewayError('GW_BODY_TIMEOUT')),
      });
      void g.completion(ex, ctx, protocol, engine);
      return;
    }
    ctx.route = path.slice(1);
    switch (path) {
      case COPILOT_PATHS.token:
      case COPILOT_PATHS.user:
      case COPILOT_PATHS.models:
      case COPILOT_PATHS.v1Models:
        if (ex.method !== 'GET') return respondError(ex, ctx, new GatewayError('GW_METHOD_NOT_ALLOWED'));
        if (path === COPILOT_PATHS.token) return void g.copilot.token(ex, ctx);
        if (path === COPILOT_PATHS.user) return void g.copilot.user(ex, ctx);
        return g.copilot.models(ex, ctx);
      case COPILOT_PATHS.embeddingModels:
        if (ex.method !== 'GET') return respondError(ex, ctx, new GatewayError('GW_METHOD_NOT_ALLOWED'));
        return g.copilot.embeddingModels(ex, ctx);
      case COPILOT_PATHS.telemetry:
        if (ex.method !== 'GET' && ex.method !== 'POST')
          return respondError(ex, ctx, new GatewayError('GW_METHOD_NOT_ALLOWED'));
        return void g.copilot.telemetry(ex, ctx);
      case TABBY_PATHS.health:
        if (ex.method !== 'GET' && ex.method !== 'POST')
          return respondError(ex, ctx, new GatewayError('GW_METHOD_NOT_ALLOWED'));
        return g.tabby.health(ex, ctx);
      case TABBY_PATHS.events:
        if (ex.method !== 'POST') return respondError(ex, ctx, new GatewayError('GW_METHOD_NOT_ALLOWED'));
        return void g.tabby.events(ex, ctx);
    }
    // The pid tells `serve --workers N`'s processes apart (which one a connection landed on).
    if (path === '/healthz') return respondJson(ex, ctx, 200, { status: 'ok', pid: process.pid });
    if (path === '/readyz') {
      if (draining) return respondError(ex, ctx, new GatewayError('GW_SHUTTING_DOWN'));
      // Until the shared denylist has been read once, revoked tokens would pass: not ready.
      if (auth !== undefined && !auth.revocationReady())
        return respondError(
          ex,
          ctx,
          new GatewayError('GW_AUTH_UNAVAILABLE', {
            detail: 'The revocation list in Redis has not been read yet.',
            retryAfterS: 1,
          }),
        );
      // No healthy model server in our own region: vote ourselves out of the load balancer.
      const r = g.router.readiness();
      if (!r.ready)
        return respondError(
          ex,
          ctx,
          new GatewayError('GW_NO_HEALTHY_UPSTREAM', {
            detail: `Region ${r.region}: 0 of ${r.total} deployments healthy.`,
            retryAfterS: 1,
          }),
        );
      return respondJson(ex, ctx, 200, {
        status: 'ready',
        region: r.region,
        healthy: r.usable,
        total: r.total,
      });
    }
    // Operator pages, here unless they have a listener of their own (telemetry.admin.port).
    if (config.telemetry.admin.port === undefined) {
      const admin = telemetry.routes.get(path);
      if (admin !== undefined) return void admin(ex, ctx);
    }
    ctx.route = 'unknown';
    respondError(ex, ctx, new GatewayError('GW_NOT_FOUND'));
  }

  engines.h2.on('session', (session) => {
    h2Sessions.add(session);
    session.on('close', () => h2Sessions.delete(session));
    session.on('error', () => {});
  });
  engines.h2.on('stream', (stream, headers) => route(new H2Exchange(stream, headers)));
  engines.h1.on('connection', (socket: net.Socket) => {
    h1Sockets.add(socket);
    socket.on('close', () => h1Sockets.delete(socket));
  });
  engines.h1.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (draining) res.shouldKeepAlive = false;
    route(new H1Exchange(req, res));
  });

  const servers: net.Server[] = [];
  const urls: string[] = [];
  const tlsFiles = await readTlsFiles(config.listeners).catch((err: unknown) => {
    gen.destroy();
    void auth?.close();
    void telemetry.close();
    throw err;
  });
  try {
    for (const [i, l] of config.listeners.entries()) {
      const server = createListenerServer(l, engines, config.limits, tlsFiles[i]);
      const port = await listen(server, l.port, l.host);
      servers.push(server);
      urls.push(`${l.tls === undefined ? 'http' : 'https'}://${urlHost(l.host)}:${port}`);
    }
  } catch (err) {
    for (const s of servers) s.close();
    gen.destroy();
    await auth?.close();
    await telemetry.close();
    throw err;
  }

  async function close(graceMs = gen.config.limits.shutdownGraceMs): Promise<void> {
    draining = true;
    // Requests waiting for capacity get a clean 503 now (they may retry elsewhere), while their
    // clients are still connected.
    gen.router.close();
    for (const s of servers) s.close();
    // GOAWAY: clients finish their open streams here and open new ones elsewhere.
    for (const session of h2Sessions) session.close();
    engines.h1.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while ((h2Sessions.size > 0 || h1Sockets.size > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      engines.h1.closeIdleConnections();
    }
    for (const session of h2Sessions) session.destroy();
    for (const socket of h1Sockets) socket.destroy();
    await Promise.all([gen.close(), ...[...retiring].map((g) => g.close())]);
    await auth?.close();
    await telemetry.close();
  }

  // One reload at a time: two overlapping ones would both retire the same generation.
  let reloading = Promise.resolve();
  function reload(next: GatewayConfig): Promise<ReloadResult> {
    const run = reloading.then(() => swap(next));
    reloading = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Everything that can fail is done before anything changes: the new generation is built (its
   * deployments' secrets read), TLS files read and loaded, auth reloaded; then new requests
   * switch to the new generation and the old one retires once its requests have ended.
   */
  async function swap(nextConfig: GatewayConfig): Promise<ReloadResult> {
    if (draining) throw new Error('the gateway is shutting down');
    const prev = gen;
    const { effective, applied, needsRestart } = reloadPlan(prev.config, nextConfig);
    const nextTls = await readTlsFiles(effective.listeners);
    const next = await Generation.create(effective, auth, prev);
    try {
      if (applyTlsFiles(tlsServers(), tlsFiles, nextTls)) applied.push('tls');
      if (auth !== undefined && !needsRestart.includes('auth.mode')) {
        if (!(await auth.reload(effective.auth))) needsRestart.push('auth.revocation.redis');
        applied.push('auth');
      }
    } catch (err) {
      next.destroy();
      throw err;
    }
    // New connections get the new per-connection limits; open ones keep theirs.
    if (effective.limits.maxConcurrentStreams !== prev.config.limits.maxConcurrentStreams)
      engines.h2.updateSettings({ maxConcurrentStreams: effective.limits.maxConcurrentStreams });
    engines.h1.headersTimeout = Math.min(effective.limits.bodyTimeoutMs, 60_000);
    gen = next;
    next.start();
    retiring.add(prev);
    void prev
      .retire(prev.config.limits.maxRequestTimeoutMs + prev.config.limits.shutdownGraceMs)
      .finally(() => retiring.delete(prev));
    return { applied, needsRestart };
  }

  function tlsServers(): (tls.Server | undefined)[] {
    return config.listeners.map((l, i) => (l.tls === undefined ? undefined : (servers[i] as tls.Server)));
  }

  return {
    urls,
    get registry() {
      return gen.registry;
    },
    get router() {
      return gen.router;
    },
    get policy() {
      return gen.policy;
    },
    get config() {
      return gen.config;
    },
    auth,
    telemetry,
    close,
    reload,
  };
}

/** A time limit passed: the request is cancelled everywhere and the client told why. */
function expire(ex: ClientExchange, ctx: RequestContext, err: GatewayError): void {
  ctx.abort(err);
  respondError(ex, ctx, err);
}

function deadlineError(ms: number): GatewayError {
  return new GatewayError('GW_DEADLINE_EXCEEDED', { detail: `Limit: ${ms} ms.` });
}

/**
 * The client protocol a completion path belongs to, or undefined when it is not a completion
 * route. One line per protocol route.
 */
export function completionProtocol(path: string, v1Completions: ProtocolChoice): ProtocolChoice | undefined {
  if (path === '/v1/completions') return v1Completions;
  if (path === '/v1/fim/completions') return CODESTRAL;
  if (path.startsWith(ENGINES_PREFIX) && path.endsWith(ENGINES_SUFFIX)) return COPILOT;
  return undefined;
}

/** Routes with one protocol: the choice is made once. */
const only = (p: ClientProtocol | undefined): ProtocolChoice => {
  if (p === undefined) throw new Error('client protocol missing from CLIENT_PROTOCOLS');
  return () => p;
};
const COPILOT = only(CLIENT_PROTOCOLS.copilot);
const CODESTRAL = only(CLIENT_PROTOCOLS.codestral);

/** A client's own deadline for this request, in milliseconds from arrival. */
export const DEADLINE_HEADER = 'x-ghostwire-deadline-ms';

/**
 * The request's deadline: the client's header if it sent one (a whole number of ms, clamped to
 * limits.maxRequestTimeoutMs), else limits.requestTimeoutMs.
 */
function requestDeadlineMs(
  header: string | undefined,
  limits: GatewayConfig['limits'],
): number | GatewayError {
  if (header === undefined) return limits.requestTimeoutMs;
  const ms = /^[0-9]{1,9}$/.test(header) ? Number(header) : NaN;
  if (!(ms >= 1))
    return new GatewayError('GW_INVALID_REQUEST', {
      detail: `${DEADLINE_HEADER} must be a whole number of milliseconds >= 1.`,
    });
  return Math.min(ms, limits.maxRequestTimeoutMs);
}

/** The engine name from the path, or undefined when it is empty, has a slash, or is badly encoded. */
export function decodeEngine(raw: string): string | undefined {
  if (raw.length === 0 || raw.includes('/')) return undefined;
  // The usual engine name has nothing to decode; decodeURIComponent showed ~1.5 µs per request.
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}
