import { MISTRAL_MAX_TEMPERATURE } from '../../protocol/mistral-fim.js';
import type { CompletionRequest, WireFormat } from '../../protocol/model.js';
import { spliceFields } from '../../protocol/json-splice.js';
import { RULE_FIELDS, type RuleField } from './fields.js';

/** A field's value while rules run; `undefined` (an empty list for `stop`) is a field the request does not have. */
export interface FieldValues {
  max_tokens: number | undefined;
  temperature: number | undefined;
  top_p: number | undefined;
  n: number | undefined;
  stop: readonly string[];
  seed: number | undefined;
  logprobs: number | undefined;
  logit_bias: Readonly<Record<string, number>> | undefined;
}

/**
 * Where each field lives in a client body of each format: its name there; `null` when the format
 * has no such field (the edit reaches the upstream through the normalized request, from which
 * adapters build such bodies); absent when the field means nothing to such a client (`n` and
 * `logprobs` for Codestral and Tabby clients, whose answers have one choice and no logprobs):
 * an edit of it is skipped.
 */
const BODY_NAMES: Readonly<Record<WireFormat, Partial<Record<RuleField, string | null>>>> = {
  'openai-completions': {
    max_tokens: 'max_tokens',
    temperature: 'temperature',
    top_p: 'top_p',
    n: 'n',
    stop: 'stop',
    seed: 'seed',
    logprobs: 'logprobs',
    logit_bias: 'logit_bias',
  },
  'mistral-fim': {
    max_tokens: 'max_tokens',
    temperature: 'temperature',
    top_p: 'top_p',
    stop: 'stop',
    seed: 'random_seed',
    logit_bias: null,
  },
  // Tabby's body has no max_tokens (the gateway's protocols.tabby.maxTokens), stop, top_p or logit_bias.
  tabby: {
    max_tokens: null,
    temperature: 'temperature',
    top_p: null,
    stop: null,
    seed: 'seed',
    logit_bias: null,
  },
  // Never a client's format.
  llamacpp: {},
  ollama: {},
  tgi: {},
};

const BIT: Readonly<Record<RuleField, number>> = Object.fromEntries(
  RULE_FIELDS.map((f, i) => [f, 1 << i]),
) as Record<RuleField, number>;

/**
 * One request's editable fields while its rules run: later rules see earlier rules' edits. Only a
 * value that actually changes marks its field, so a rule that leaves everything as it was (a
 * clamp the request is already within) keeps the client's bytes for the upstream.
 */
export class Draft {
  model: string | undefined;
  readonly #values: FieldValues;
  readonly #names: Partial<Record<RuleField, string | null>>;
  /** One bit per changed field (BIT). */
  #changed = 0;

  constructor(readonly req: CompletionRequest) {
    this.model = req.model;
    this.#names = BODY_NAMES[req.origin];
    this.#values = {
      max_tokens: req.maxTokens,
      temperature: req.temperature,
      top_p: req.topP,
      n: req.n,
      stop: req.stop,
      seed: req.seed,
      logprobs: req.logprobs,
      logit_bias: req.logitBias,
    };
  }

  get<K extends RuleField>(field: K): FieldValues[K] {
    return this.#values[field];
  }

  /** Whether the request has the field (a value; for `stop`, at least one). */
  has(field: RuleField): boolean {
    const v = this.#values[field];
    return field === 'stop' ? (v as readonly string[]).length > 0 : v !== undefined;
  }

  /** Sets a field, unless it means nothing to this request's client; a change is remembered. */
  put<K extends RuleField>(field: K, value: FieldValues[K]): void {
    if (this.#names[field] === undefined) return;
    // Mistral's range ends lower than OpenAI's: the client's format must stay one its decoder takes.
    if (field === 'temperature' && this.req.origin === 'mistral-fim' && typeof value === 'number')
      value = Math.min(value, MISTRAL_MAX_TEMPERATURE) as FieldValues[K];
    if (same(this.#values[field], value)) return;
    this.#values[field] = value;
    this.#changed |= BIT[field];
  }

  /** Removes a field (the upstream's default applies). */
  remove(field: RuleField): void {
    if (field === 'stop') this.put('stop', []);
    else this.put(field, undefined);
  }

  /**
   * The request as the rules left it: the same object when nothing changed; otherwise new
   * normalized fields and, when a field the client's format carries changed, a body with the
   * edits under the format's own names and the same edits spliced into its bytes, so an adapter
   * that reuses the client's body sends the edited values too.
   */
  finish(): CompletionRequest {
    const r = this.req;
    const modelChanged = this.model !== r.model;
    if (this.#changed === 0 && !modelChanged) return r;
    let body = r.body;
    let raw = r.raw;
    let edited: Record<string, unknown> | undefined;
    // The same edits for the bytes: name → value, undefined to remove the field.
    const edits = new Map<string, unknown>();
    for (const field of RULE_FIELDS) {
      const name = this.#names[field];
      if ((this.#changed & BIT[field]) === 0 || typeof name !== 'string') continue;
      edited ??= { ...r.body };
      const v = this.#values[field];
      if (v === undefined || (field === 'stop' && (v as readonly string[]).length === 0)) {
        delete edited[name];
        edits.set(name, undefined);
      } else {
        edited[name] = v;
        edits.set(name, v);
      }
    }
    // A model the client's body names (OpenAI, Codestral) follows the route; Copilot's is in the path.
    if (modelChanged && r.origin !== 'tabby' && typeof r.body.model === 'string') {
      edited ??= { ...r.body };
      edited.model = this.model;
      edits.set('model', this.model);
    }
    if (edited !== undefined) {
      body = edited;
      // The client's bytes with the edited fields spliced in (the prompt is copied, not
      // re-serialized); without bytes (an earlier edit), the adapter serializes the body.
      raw = raw === undefined ? undefined : spliceFields(raw, edits);
    }
    const v = this.#values;
    return {
      ...r,
      model: this.model,
      maxTokens: v.max_tokens,
      temperature: v.temperature,
      topP: v.top_p,
      n: v.n ?? 1,
      stop: v.stop,
      seed: v.seed,
      logprobs: v.logprobs,
      logitBias: v.logit_bias,
      body,
      raw,
    };
  }
}

/** Equal values (lists element by element, bias maps entry by entry). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a)) {
    const ka = Object.keys(a);
    const rb = b as Record<string, unknown>;
    return (
      ka.length === Object.keys(b).length &&
      ka.every((k) => Object.hasOwn(rb, k) && (a as Record<string, unknown>)[k] === rb[k])
    );
  }
  return false;
}
