import { z } from 'zod';
import { FIM_TEMPLATE_NAMES } from '../protocol/fim-templates.js';
import { ruleReferenceIssues } from '../policy/rules-schema.js';
import { PolicyConfig, policyReferenceIssues } from '../policy/schema.js';
import { TelemetryConfig } from '../telemetry/schema.js';
import { UPSTREAM_ADAPTERS, type AdapterName } from '../protocol/upstream/index.js';

/** Every adapter the gateway has (protocol/upstream/index.ts is the one list). */
const ADAPTER_NAMES = Object.keys(UPSTREAM_ADAPTERS) as [AdapterName, ...AdapterName[]];

/**
 * The configuration file's schema. Defaults live here, with units in the names. The file is
 * parsed once at start (and on reload), every problem is reported with its path, and the result
 * is frozen and passed down typed.
 */

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().int().min(1).max(3_600_000);

/** A secret is given literally, or read from an environment variable or a file; never logged. */
export const SecretSource = z.union([
  z.string().min(1),
  z.strictObject({ env: z.string().min(1) }),
  z.strictObject({ file: z.string().min(1) }),
]);

export const TlsServerConfig = z.strictObject({
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
});

export const ListenerConfig = z.strictObject({
  name: z.string().min(1).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8080),
  /** With tls: HTTP/2 over TLS (ALPN h2) with HTTP/1.1 fallback. Without: h2c prior-knowledge and HTTP/1.1. */
  tls: TlsServerConfig.optional(),
});

export const CredentialConfig = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('bearer'), token: SecretSource }),
  z.strictObject({ type: z.literal('header'), header: z.string().min(1), value: SecretSource }),
]);

const UPSTREAM_SCHEMES = ['http:', 'https:', 'h2c:'];

export const DeploymentConfig = z.strictObject({
  name: z.string().min(1),
  /** http:// = HTTP/1.1, h2c:// = cleartext HTTP/2 (prior knowledge), https:// = TLS with ALPN (h2 preferred). */
  url: z.string().refine(
    (s) => {
      try {
        return UPSTREAM_SCHEMES.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    { message: 'expected an absolute URL starting with http://, https:// or h2c://' },
  ),
  /**
   * The wire format the upstream speaks: openai (OpenAI, DeepSeek, any OpenAI-compatible server),
   * copilot (/v1/engines/{model}/completions), azure-openai, vllm, llamacpp (/infill), ollama
   * (/api/generate), tgi (/generate_stream), codestral (/v1/fim/completions).
   */
  adapter: z.enum(ADAPTER_NAMES).default('openai'),
  /**
   * How this server's model expects fill-in-the-middle prompts, for servers that take a raw
   * prompt and no suffix (vllm and tgi need one): starcoder, qwen2.5-coder, codellama,
   * deepseek-coder, codestral.
   */
  fimTemplate: z.enum(FIM_TEMPLATE_NAMES).optional(),
  /** Azure OpenAI: the deployment name in the URL (default: the model's upstream name) and the api-version. */
  azure: z
    .strictObject({
      deployment: z.string().min(1).optional(),
      apiVersion: z
        .string()
        .regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'expected an api-version such as 2024-10-21')
        .default('2024-10-21'),
    })
    .optional(),
  /**
   * enforce: the gateway applies the request's stop sequences (and Copilot's trim_by_indentation)
   * itself as the text streams, and cancels the upstream once every choice has stopped; the
   * answer is re-encoded. trust: this server honours them, so when it also speaks the client's
   * format its bytes pass through untouched (the fastest path).
   */
  stopSequences: z.enum(['enforce', 'trust']).default('enforce'),
  /** auto: h2c:// and https:// use HTTP/2, http:// uses HTTP/1.1. h1 forces HTTP/1.1 (e.g. a TLS server without h2). */
  protocol: z.enum(['auto', 'h1', 'h2']).default('auto'),
  credential: CredentialConfig.default({ type: 'none' }),
  /** HTTP/2: at most this many long-lived sessions; HTTP/1.1: at most this many connections. */
  maxConnections: z.number().int().min(1).max(1024).optional(),
  connectTimeoutMs: positiveMs.default(3000),
  /** HTTP/2 keepalive: PING after this long without a frame; the session is dropped if no ack in pingTimeoutMs. */
  pingIntervalMs: positiveMs.default(15_000),
  pingTimeoutMs: positiveMs.default(5000),
  /**
   * The upstream's rapid-reset allowance per HTTP/2 session (nghttp2's default: 1000 resets,
   * refilled 33/s). Every cancel is a reset; a session is retired after spending half of it.
   */
  resetBudget: z
    .strictObject({
      burst: z.number().int().min(2).max(1_000_000).default(1000),
      perSecond: z.number().min(0).max(1_000_000).default(33),
    })
    .default({ burst: 1000, perSecond: 33 }),
  /** The region this deployment runs in; default: the instance's own (routing.region). */
  region: z.string().min(1).optional(),
  /**
   * Requests the gateway sends it at once: its batch capacity (a vLLM/TGI max batch size, a
   * llama.cpp slot count). Beyond it, requests wait in the gateway's queue or spill to another region.
   */
  maxConcurrent: z.number().int().min(1).max(100_000).default(256),
  /** Relative share of traffic against deployments of the same model in the same region. */
  weight: z.number().min(0.01).max(100).default(1),
  /** The active health probe for this deployment (defaults from routing.health.active). */
  healthCheck: z
    .strictObject({
      enabled: z.boolean().optional(),
      /** GET path answered 2xx by a healthy server: /health (vLLM, TGI, llama.cpp), /v1/models (OpenAI-compatible clouds). */
      path: z.string().startsWith('/').optional(),
    })
    .optional(),
  tls: z
    .strictObject({
      caFile: z.string().min(1).optional(),
      serverName: z.string().min(1).optional(),
      rejectUnauthorized: z.boolean().default(true),
    })
    .optional(),
});

export const ModelConfig = z.strictObject({
  /** The name clients ask for; `*` catches every name not configured otherwise. */
  name: z.string().min(1),
  /** Other names clients may ask for (a Copilot engine such as gpt-41-copilot, an OpenAI model id). */
  aliases: z.array(z.string().min(1)).default([]),
  /** The model name sent upstream; defaults to `name`. */
  upstreamModel: z.string().min(1).optional(),
  deployments: z.array(z.string().min(1)).min(1),
});

export const LimitsConfig = z.strictObject({
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /** Time allowed for the whole request body to arrive. */
  bodyTimeoutMs: positiveMs.default(10_000),
  /**
   * The request deadline: a completion that would arrive later is worthless. Before it is sent a
   * late request is dropped (never sent upstream); once streaming, it is cancelled upstream.
   */
  requestTimeoutMs: positiveMs.default(30_000),
  /** Upper bound for a client's own deadline (header x-ghostwire-deadline-ms); larger values are clamped. */
  maxRequestTimeoutMs: positiveMs.default(60_000),
  /** A connection must send its first bytes within this time. */
  firstByteTimeoutMs: positiveMs.default(10_000),
  /** HTTP/2 streams a client may have open at once on one connection. */
  maxConcurrentStreams: z.number().int().min(1).max(10_000).default(256),
  /** After SIGTERM, in-flight streams get this long to finish. */
  shutdownGraceMs: positiveMs.default(10_000),
});

const regionName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1-64 letters, digits, ., - or _');

export const RegionConfig = z.strictObject({
  name: regionName,
  /** The public URL of the gateway in this region: the token exchange sends clients there while it is the nearest healthy region. */
  publicUrl: z
    .string()
    .refine((s) => URL.canParse(s) && ['http:', 'https:'].includes(new URL(s).protocol), {
      message: 'expected an absolute http:// or https:// URL',
    })
    .optional(),
});

const ratio = z.number().min(0).max(1);

export const RoutingConfig = z.strictObject({
  /** The region this instance runs in: its deployments are preferred. */
  region: regionName.default('local'),
  /** Every region in spill-over preference order; this instance's own region is always tried first. */
  regions: z.array(RegionConfig).default([]),
  /** When every local deployment is at capacity, a request waits here before spilling over or getting 503. */
  queue: z
    .strictObject({
      maxWaiting: z.number().int().min(0).max(100_000).default(1024),
      /** At most this long (and never past the request's deadline). */
      maxWaitMs: z.number().int().min(0).max(60_000).default(200),
    })
    .prefault({}),
  /** Requests from one editor session and file prefer one deployment, so its prefix cache is hit. */
  affinity: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** How many leading characters of the prompt go into the key (with the VScode-SessionId header). */
      promptChars: z.number().int().min(0).max(65_536).default(256),
      /** Bounded load: the preferred deployment is skipped while its load exceeds this × the average. */
      loadFactor: z.number().min(1).max(10).default(1.25),
    })
    .prefault({}),
  /** Time-to-first-byte average that the balancer scores deployments by. */
  ewma: z
    .strictObject({
      /** A sample's weight halves roughly every 0.7 × this. */
      decayMs: positiveMs.default(10_000),
      /** Assumed for a deployment with no sample yet. */
      initialTtfbMs: z.number().min(0).max(60_000).default(50),
    })
    .prefault({}),
  health: z
    .strictObject({
      /** Outlier detection on real traffic: failing deployments are ejected for a cool-down. */
      passive: z
        .strictObject({
          consecutiveFailures: z.number().int().min(1).max(1000).default(5),
          /** Eject when this share of requests in the window failed (with at least minRequests). */
          failureRate: ratio.default(0.5),
          minRequests: z.number().int().min(1).max(1_000_000).default(20),
          windowMs: positiveMs.default(10_000),
          /** First ejection; each repeat doubles it, up to maxEjectionMs. */
          baseEjectionMs: positiveMs.default(1000),
          maxEjectionMs: positiveMs.default(60_000),
        })
        .prefault({}),
      /** A periodic GET per deployment. */
      active: z
        .strictObject({
          enabled: z.boolean().default(true),
          path: z.string().startsWith('/').default('/health'),
          intervalMs: positiveMs.default(1000),
          timeoutMs: positiveMs.default(1000),
          /** Consecutive failed probes that mark a deployment down (a failure is re-checked at once). */
          unhealthyThreshold: z.number().int().min(1).max(100).default(2),
          /** Consecutive good probes that bring it back. */
          healthyThreshold: z.number().int().min(1).max(100).default(1),
        })
        .prefault({}),
    })
    .prefault({}),
  /** A request that failed before its first byte reached the client is retried once elsewhere, within budget. */
  retries: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Retries may add at most this share of load (over a 10 s window)... */
      budgetRatio: ratio.default(0.1),
      /** ...plus this many per second, so a quiet gateway can still retry. */
      minPerSecond: z.number().min(0).max(100_000).default(5),
    })
    .prefault({}),
});

/** Settings of client protocols that need more than their request says. */
export const ProtocolsConfig = z.strictObject({
  /** Tabby's IDE extensions (`POST /v1/completions` with `segments`): their requests name no model. */
  tabby: z
    .strictObject({
      /** The model every Tabby request goes to (a model name or alias). */
      model: z.string().min(1).default('default'),
      /** Tokens asked for per completion: Tabby's request has no max_tokens (its server's default is 64). */
      maxTokens: z.number().int().min(1).max(8192).default(64),
      /** Characters of editor-sent code snippets written into the prompt as comments; 0 = none. */
      contextChars: z.number().int().min(0).max(65_536).default(768),
    })
    .prefault({}),
});

const seconds = (max: number) => z.number().int().min(1).max(max);
const httpUrl = z.string().refine(
  (s) => {
    try {
      return ['http:', 'https:'].includes(new URL(s).protocol);
    } catch {
      return false;
    }
  },
  { message: 'expected an absolute http:// or https:// URL' },
);

/** One HMAC key for gateway tokens. The newest (last) key not retired signs; every key not retired verifies. */
export const SigningKeyConfig = z.strictObject({
  /** Carried in each token as `kid`; letters, digits, `-` and `_`. */
  id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'expected 1-32 letters, digits, - or _'),
  /** At least 32 bytes of secret; literal, { env } or { file }. */
  secret: SecretSource,
  /** Retired keys neither sign nor verify. Retire a key only after tokens.lifetimeS has passed since it stopped signing. */
  retired: z.boolean().default(false),
});

export const StaticUserConfig = z.strictObject({
  uid: z.string().min(1).max(128),
  login: z.string().min(1).max(128).optional(),
  sku: z.string().min(1).max(64).default('copilot_enterprise_seat'),
  org: z.string().min(1).max(128).optional(),
  /** SHA-256 of the user's API key, lowercase hex. The key itself is never stored. */
  apiKeySha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters (sha256 of the key)'),
  disabled: z.boolean().default(false),
});

export const VerifierConfig = z.discriminatedUnion('type', [
  /** API keys in the config file, stored as hashes. */
  z.strictObject({ type: z.literal('static'), users: z.array(StaticUserConfig).min(1) }),
  /** A JWT from an OpenID Connect identity provider, checked against its JWKS. */
  z.strictObject({
    type: z.literal('oidc'),
    issuer: z.string().min(1),
    audience: z.string().min(1),
    jwksUrl: httpUrl,
    /** Claim names mapped to the identity; a missing sku/org claim falls back to defaultSku / no org. */
    claims: z
      .strictObject({
        uid: z.string().min(1).default('sub'),
        login: z.string().min(1).default('preferred_username'),
        sku: z.string().min(1).optional(),
        org: z.string().min(1).optional(),
      })
      .default({ uid: 'sub', login: 'preferred_username' }),
    defaultSku: z.string().min(1).default('copilot_enterprise_seat'),
    timeoutMs: positiveMs.default(3000),
  }),
  /** A GitHub OAuth token, checked by calling {apiBaseUrl}/user (GitHub Enterprise: https://HOST/api/v3). */
  z.strictObject({
    type: z.literal('github'),
    apiBaseUrl: httpUrl.default('https://api.github.com'),
    /** A positive answer is cached this long; a revoked OAuth token keeps exchanging for at most this. */
    cacheTtlS: seconds(3600).default(60),
    /** Only members of one of these orgs may exchange (checked via /user/orgs); empty = anyone GitHub accepts. */
    allowedOrgs: z.array(z.string().min(1)).default([]),
    sku: z.string().min(1).default('copilot_enterprise_seat'),
    timeoutMs: positiveMs.default(3000),
    /** Logins refused at exchange, as if disabled. */
    disabledLogins: z.array(z.string().min(1)).default([]),
  }),
]);

export const RevocationConfig = z.strictObject({
  /** Token ids (`tid`) refused on every request. */
  tokenIds: z.array(z.string().min(1)).default([]),
  /** User ids (`uid`) whose tokens are refused on every request. */
  uids: z.array(z.string().min(1)).default([]),
  /** Shared denylist: every instance sees a revocation written here within a second. */
  redis: z
    .strictObject({
      url: z.string().regex(/^rediss?:\/\//, 'expected redis:// or rediss://'),
      keyPrefix: z.string().min(1).default('ghostwire:revoked'),
      /** Full resync interval, a safety net under pub/sub. */
      syncIntervalMs: positiveMs.default(1000),
    })
    .optional(),
});

export const AuthConfig = z
  .strictObject(
    {
      /** tokens: every completion needs a gateway token. none: no auth at all (development only). */
      mode: z.enum(['tokens', 'none']).default('tokens'),
      signingKeys: z
        .array(SigningKeyConfig)
        .default([])
        .superRefine((keys, ctx) => {
          const ids = new Set<string>();
          keys.forEach((k, i) => {
            if (ids.has(k.id))
              ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate key id "${k.id}"` });
            ids.add(k.id);
          });
        }),
      tokens: z
        .strictObject({
          lifetimeS: seconds(86_400).default(1800),
          refreshInS: seconds(86_400).default(1500),
          clockSkewS: z.number().int().min(0).max(600).default(30),
          /** Base URL clients are told to use (token `proxy-ep`, `endpoints.*`); default: the URL the client called. */
          publicUrl: httpUrl.optional(),
          /** Feature flags copied into each token and the exchange response (e.g. chat: "1"). */
          flags: z
            .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/), z.string().regex(/^[^;:=]{0,64}$/))
            .default({}),
        })
        .refine((t) => t.refreshInS < t.lifetimeS, {
          path: ['refreshInS'],
          message: 'must be less than auth.tokens.lifetimeS',
        })
        .default({ lifetimeS: 1800, refreshInS: 1500, clockSkewS: 30, flags: {} }),
      verifier: VerifierConfig.optional(),
      revocation: RevocationConfig.default({ tokenIds: [], uids: [] }),
    },
    {
      // Auth is never off by accident: a config file must say how clients authenticate.
      error: (iss) =>
        iss.input === undefined
          ? 'required: signing keys and a verifier (see docs/auth.md), or { mode: none } for development'
          : undefined,
    },
  )
  .superRefine((auth, ctx) => {
    if (auth.mode === 'none') return;
    if (!auth.signingKeys.some((k) => !k.retired))
      ctx.addIssue({
        code: 'custom',
        path: ['signingKeys'],
        message:
          'at least one signing key that is not retired is required (or set auth.mode: none for development)',
      });
    if (auth.verifier === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['verifier'],
        message: 'a credential verifier (static, oidc or github) is required for auth.mode: tokens',
      });
  });

export const GatewayConfigSchema = z
  .strictObject({
    listeners: z
      .array(ListenerConfig)
      .min(1)
      .default([{ host: '127.0.0.1', port: 8080 }]),
    deployments: z.array(DeploymentConfig).min(1),
    models: z.array(ModelConfig).min(1),
    limits: LimitsConfig.default(LimitsConfig.parse({})),
    routing: RoutingConfig.prefault({}),
    protocols: ProtocolsConfig.prefault({}),
    policy: PolicyConfig.prefault({}),
    telemetry: TelemetryConfig.prefault({}),
    /** Required: either signing keys and a verifier, or an explicit `mode: none`. */
    auth: AuthConfig,
  })
  .superRefine(
    (cfg, ctx) => {
      const deploymentNames = new Set<string>();
      cfg.deployments.forEach((d, i) => {
        if (deploymentNames.has(d.name))
          ctx.addIssue({
            code: 'custom',
            path: ['deployments', i, 'name'],
            message: `duplicate deployment name "${d.name}"`,
          });
        deploymentNames.add(d.name);
      });
      cfg.deployments.forEach((d, i) => {
        if (UPSTREAM_ADAPTERS[d.adapter].needsFimTemplate && d.fimTemplate === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['deployments', i, 'fimTemplate'],
            message: `adapter ${d.adapter} needs a fimTemplate (${FIM_TEMPLATE_NAMES.join(', ')}): the server takes a raw prompt and no suffix`,
          });
        if (d.azure !== undefined && d.adapter !== 'azure-openai')
          ctx.addIssue({
            code: 'custom',
            path: ['deployments', i, 'azure'],
            message: 'azure settings apply to adapter azure-openai only',
          });
      });
      const routing = cfg.routing ?? { region: 'local', regions: [] };
      const regionNames = new Set(routing.regions.map((r) => r.name));
      if (regionNames.size > 0 && !regionNames.has(routing.region))
        ctx.addIssue({
          code: 'custom',
          path: ['routing', 'region'],
          message: `"${routing.region}" is not in routing.regions (known: ${[...regionNames].join(', ')})`,
        });
      if (regionNames.size < routing.regions.length)
        ctx.addIssue({ code: 'custom', path: ['routing', 'regions'], message: 'duplicate region name' });
      regionNames.add(routing.region);
      cfg.deployments.forEach((d, i) => {
        if (d.region !== undefined && !regionNames.has(d.region))
          ctx.addIssue({
            code: 'custom',
            path: ['deployments', i, 'region'],
            message: `unknown region "${d.region}" (known: ${[...regionNames].join(', ')})`,
          });
      });
      const modelNames = new Map<string, string>();
      cfg.models.forEach((m, i) => {
        [m.name, ...m.aliases].forEach((n, j) => {
          const owner = modelNames.get(n);
          if (owner !== undefined)
            ctx.addIssue({
              code: 'custom',
              path: j === 0 ? ['models', i, 'name'] : ['models', i, 'aliases', j - 1],
              message: `name "${n}" is already used by model "${owner}"`,
            });
          modelNames.set(n, m.name);
        });
        m.deployments.forEach((d, j) => {
          if (!deploymentNames.has(d))
            ctx.addIssue({
              code: 'custom',
              path: ['models', i, 'deployments', j],
              message: `unknown deployment "${d}" (known: ${[...deploymentNames].join(', ')})`,
            });
        });
      });
      for (const issue of ruleReferenceIssues(cfg.policy?.rules, new Set(modelNames.keys())))
        ctx.addIssue({ code: 'custom', ...issue });
      for (const issue of policyReferenceIssues(cfg))
        ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    },
    {
      // Cross-references run even when another section (auth, limits) is broken, so a file's
      // problems are all reported at once; they are skipped only when deployments or models
      // themselves did not parse (then those errors are the ones to fix first).
      when: (payload) => {
        const v = payload.value as { deployments?: unknown; models?: unknown } | null;
        return (
          typeof v === 'object' &&
          v !== null &&
          Array.isArray(v.deployments) &&
          Array.isArray(v.models) &&
          payload.issues.every(
            (i) => i.code === 'custom' || (i.path?.[0] !== 'deployments' && i.path?.[0] !== 'models'),
          )
        );
      },
    },
  );

export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;
export type GatewayConfig = z.output<typeof GatewayConfigSchema>;
export type DeploymentConfig = z.output<typeof DeploymentConfig>;
export type ModelConfig = z.output<typeof ModelConfig>;
export type ListenerConfig = z.output<typeof ListenerConfig>;
export type LimitsConfig = z.output<typeof LimitsConfig>;
export type RoutingConfig = z.output<typeof RoutingConfig>;
export type ProtocolsConfig = z.output<typeof ProtocolsConfig>;
export type RegionConfig = z.output<typeof RegionConfig>;
export type CredentialConfig = z.output<typeof CredentialConfig>;
export type SecretSource = z.output<typeof SecretSource>;
export type AuthConfig = z.output<typeof AuthConfig>;
export type VerifierConfig = z.output<typeof VerifierConfig>;
export type SigningKeyConfig = z.output<typeof SigningKeyConfig>;
export type RevocationConfig = z.output<typeof RevocationConfig>;
