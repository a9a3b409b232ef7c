import { z } from 'zod';
import { RULE_FIELDS } from './rules/fields.js';
import { parseProductSpec } from './rules/product.js';

/**
 * `policy.rules`: an ordered list of rewrite rules. A rule's `match` selects requests (every
 * condition given must hold; a list means any of its values); its actions edit the request's
 * body fields, send it to another model, or refuse it with a status and a message the user sees.
 * See docs/policy.md (Rewrite rules) for how rules combine.
 */

/** Rules at most: each is compiled and indexed at load; a list this long is a config generator's bug. */
const MAX_RULES = 1000;
/** Values in one condition list. */
const MAX_VALUES = 256;
/** Stop sequences one rule sets or adds (what clients may send too). */
export const MAX_RULE_STOPS = 16;

/** One value or a list of them; the output is always a list. */
const anyOf = <T extends z.ZodType<string>>(item: T) =>
  z
    .union([item, z.array(item).min(1).max(MAX_VALUES)])
    .transform((v): z.output<T>[] => (Array.isArray(v) ? v : [v]));

/** An exact value, or a prefix written with one trailing `*` (`gpt-4o-*`); `*` alone is any value. */
const pattern = z
  .string()
  .min(1)
  .max(256)
  .refine((s) => !s.slice(0, -1).includes('*'), {
    message: 'a * may only end a pattern (a prefix such as "gpt-4o-*")',
  });

const productSpec = z
  .string()
  .min(1)
  .max(300)
  .superRefine((s, ctx) => {
    const spec = parseProductSpec(s);
    if (typeof spec === 'string') ctx.addIssue({ code: 'custom', message: spec });
  });

/**
 * A record whose keys must match `key`; a bad key is reported with `message` at its own path (a
 * zod key schema would only say "Invalid key in record").
 */
const keyedBy = <V extends z.ZodType>(key: RegExp, message: string, value: V) =>
  z.record(z.string(), value).superRefine((rec, ctx) => {
    for (const k of Object.keys(rec))
      if (!key.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `"${k}": ${message}` });
  });

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

export const RuleMatchConfig = z.strictObject({
  /** The client protocol: copilot, openai, codestral or tabby. */
  protocol: anyOf(z.enum(['copilot', 'openai', 'codestral', 'tabby'])).optional(),
  /** The request path (`/v1/engines/*` for every Copilot engine). */
  path: anyOf(pattern.refine((s) => s.startsWith('/'), { message: 'a path starts with /' })).optional(),
  /** The model the client asked for (or an earlier rule's routeTo). */
  model: anyOf(pattern).optional(),
  /** The file's language as the client says it (Copilot's extra.language, Tabby's language). */
  language: anyOf(z.string().min(1).max(64)).optional(),
  /** The verified user's uid, sku and org (from the gateway token; no match with auth off). */
  user: anyOf(z.string().min(1).max(128)).optional(),
  sku: anyOf(z.string().min(1).max(64)).optional(),
  org: anyOf(z.string().min(1).max(128)).optional(),
  /** Header values by lower-case header name; every header given must match one of its patterns. */
  headers: keyedBy(HEADER_NAME, 'expected a lower-case header name', anyOf(pattern)).optional(),
  /** `Editor-Version` (`vscode/1.95.0`) as "<name> [<version range>]": "vscode >=1.90". */
  editor: anyOf(productSpec).optional(),
  /** `Editor-Plugin-Version` (`copilot/1.250.0`) as "<name> [<version range>]": "copilot <1.200.0". */
  plugin: anyOf(productSpec).optional(),
  /** Any `name/version` product in the User-Agent: "GithubCopilot <1.200", "tabby-agent". */
  userAgent: anyOf(productSpec).optional(),
});

const maxTokens = z.number().int().min(1).max(1_000_000);
const temperature = z.number().min(0).max(2);
const topP = z.number().min(0).max(1);
const choices = z.number().int().min(1).max(16);
const stopString = z.string().min(1).max(256);
/** OpenAI's logit_bias: token ids to a bias from -100 to 100. */
const logitBias = keyedBy(/^\d{1,10}$/, 'expected a token id (digits)', z.number().min(-100).max(100));

/** Field values for `set` and `default`, each checked as a client's value would be. */
const FieldValues = z.strictObject({
  max_tokens: maxTokens.optional(),
  temperature: temperature.optional(),
  top_p: topP.optional(),
  n: choices.optional(),
  stop: anyOf(stopString)
    .refine((s) => s.length <= MAX_RULE_STOPS, { message: `at most ${MAX_RULE_STOPS} stop sequences` })
    .optional(),
  // Non-negative: Mistral's random_seed and Tabby's seed are.
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  logprobs: z.number().int().min(0).max(20).optional(),
  logit_bias: logitBias.optional(),
});

const bounds = <T extends z.ZodNumber>(n: T) =>
  z
    .strictObject({ min: n.optional(), max: n.optional() })
    .refine((b) => b.min !== undefined || b.max !== undefined, { message: 'give min, max or both' })
    .refine((b) => b.min === undefined || b.max === undefined || b.min <= b.max, {
      message: 'min must not be above max',
    });

/** Numeric fields a rule may keep within bounds. */
const ClampConfig = z.strictObject({
  max_tokens: bounds(maxTokens).optional(),
  temperature: bounds(temperature).optional(),
  top_p: bounds(topP).optional(),
  n: bounds(choices).optional(),
});

export const RuleConfig = z
  .strictObject({
    /** Unique; named in check-config output and recorded on each request it fires for. */
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected 1-64 letters, digits, ., - or _'),
    /** No match: every request. */
    match: RuleMatchConfig.prefault({}),
    /** Refuse the request: this status (400-599) and message (shown to the user; config text only). */
    reject: z
      .strictObject({
        status: z.number().int().min(400).max(599),
        message: z.string().min(1).max(500),
      })
      .optional(),
    /** Send the request to this configured model (a name or alias). */
    routeTo: z.string().min(1).optional(),
    /** Fields set, whatever the client sent. */
    set: FieldValues.optional(),
    /** Fields set only when the client did not send them. */
    default: FieldValues.optional(),
    /** Fields removed (the upstream's own default applies). */
    delete: z.array(z.enum(RULE_FIELDS)).max(RULE_FIELDS.length).optional(),
    /** Fields kept within bounds; a field the request does not have is left alone (see `default`). */
    clamp: ClampConfig.optional(),
    /** Stop sequences added to the request's own (duplicates dropped). */
    addStop: anyOf(stopString)
      .refine((s) => s.length <= MAX_RULE_STOPS, { message: `at most ${MAX_RULE_STOPS} stop sequences` })
      .optional(),
    /** logit_bias entries added to the request's own (these win for the same token). */
    logitBias: logitBias.optional(),
    /** After this rule, no later rule is looked at. */
    final: z.boolean().default(false),
  })
  .superRefine((rule, ctx) => {
    const edits = (['routeTo', 'set', 'default', 'delete', 'clamp', 'addStop', 'logitBias'] as const).filter(
      (k) => rule[k] !== undefined,
    );
    if (rule.reject !== undefined && edits.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['reject'],
        message: `a rule that rejects ends the request: it takes no other action (found ${edits.join(', ')})`,
      });
    if (rule.reject === undefined && edits.length === 0 && !rule.final)
      ctx.addIssue({
        code: 'custom',
        path: [],
        message:
          'a rule needs an action: reject, routeTo, set, default, delete, clamp, addStop or logitBias (or final: true)',
      });
    // One field, one way: set, default and delete of the same field contradict each other.
    const seen = new Map<string, string>();
    for (const action of ['set', 'default', 'delete', 'clamp'] as const) {
      const v = rule[action];
      const fields = v === undefined ? [] : Array.isArray(v) ? v : Object.keys(v);
      for (const f of fields) {
        const earlier = seen.get(f);
        // set or default, then clamp, is meaningful (the value is bounded); the rest contradict.
        if (earlier === undefined || (action === 'clamp' && earlier !== 'delete')) {
          seen.set(f, action);
          continue;
        }
        ctx.addIssue({
          code: 'custom',
          path: [action],
          message:
            action === 'clamp'
              ? `"${f}" is deleted by this rule: it cannot also be clamped`
              : `"${f}" is also in ${earlier}: a field takes one of set, default or delete`,
        });
      }
    }
  });

export const RulesConfig = z
  .array(RuleConfig)
  .max(MAX_RULES)
  .default([])
  .superRefine(
    (rules, ctx) => {
      const names = new Set<string>();
      // Read defensively: this also runs when some rule is broken, so every problem shows at once.
      (rules as unknown[]).forEach((r, i) => {
        const name = (r as { name?: unknown } | null)?.name;
        if (typeof name !== 'string') return;
        if (names.has(name))
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate rule name "${name}"` });
        names.add(name);
      });
    },
    { when: (payload) => Array.isArray(payload.value) },
  );

export type RuleMatchConfig = z.output<typeof RuleMatchConfig>;
export type RuleConfig = z.output<typeof RuleConfig>;
export type RulesConfig = z.output<typeof RulesConfig>;

/**
 * Problems only the whole config can see (called from the config's cross-reference check): a
 * `routeTo` must name a configured model or alias. A `match.model` may name any model: a rule
 * may give an unconfigured engine name a home with routeTo.
 */
export function ruleReferenceIssues(
  rules: unknown,
  modelNames: ReadonlySet<string>,
): { path: (string | number)[]; message: string }[] {
  if (!Array.isArray(rules)) return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  rules.forEach((r: unknown, i) => {
    const target = (r as { routeTo?: unknown } | null)?.routeTo;
    if (typeof target === 'string' && !modelNames.has(target))
      out.push({
        path: ['policy', 'rules', i, 'routeTo'],
        message: `unknown model "${target}" (known: ${[...modelNames].join(', ')})`,
      });
  });
  return out;
}
