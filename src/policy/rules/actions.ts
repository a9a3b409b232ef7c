import { GatewayError } from '../../errors/gateway-error.js';
import type { RuleConfig } from '../rules-schema.js';
import type { Draft, FieldValues } from './draft.js';
import type { RuleField } from './fields.js';

/** One edit of a rule, applied to a request's draft. */
export type Action = (d: Draft) => void;

/**
 * A rule's edits, compiled in the order they apply within the rule: routeTo, set, default,
 * delete, clamp, addStop, logitBias. (The schema refuses a field in more than one of set,
 * default and delete, so only clamp's place matters: it bounds what set or default wrote.)
 */
export function compileActions(rule: RuleConfig): Action[] {
  const out: Action[] = [];
  const target = rule.routeTo;
  if (target !== undefined)
    out.push((d) => {
      d.model = target;
    });
  for (const [field, value] of entries(rule.set)) out.push((d) => d.put(field, value));
  for (const [field, value] of entries(rule.default))
    out.push((d) => {
      if (!d.has(field)) d.put(field, value);
    });
  for (const field of rule.delete ?? []) out.push((d) => d.remove(field));
  for (const [field, b] of Object.entries(rule.clamp ?? {}) as [
    RuleField,
    { min?: number; max?: number },
  ][]) {
    const min = b.min ?? -Infinity;
    const max = b.max ?? Infinity;
    // A field the request does not have is left alone: its default is the upstream's, unknown here.
    out.push((d) => {
      const v = d.get(field);
      if (typeof v === 'number') d.put(field, Math.min(max, Math.max(min, v)));
    });
  }
  const addStop = rule.addStop;
  if (addStop !== undefined)
    out.push((d) => {
      const current = d.get('stop');
      // Already there (the common case for a rule that repeats a client's own stop): no copy, no edit.
      if (addStop.every((s) => current.includes(s))) return;
      const stop = [...current];
      for (const s of addStop) if (!stop.includes(s)) stop.push(s);
      d.put('stop', stop);
    });
  const bias = rule.logitBias;
  if (bias !== undefined) out.push((d) => d.put('logit_bias', { ...d.get('logit_bias'), ...bias }));
  return out;
}

/** A rule's refusal, built once: the same error answers every request the rule rejects. */
export function compileReject(rule: RuleConfig): GatewayError | undefined {
  if (rule.reject === undefined) return undefined;
  return new GatewayError('GW_POLICY_REJECTED', { status: rule.reject.status, detail: rule.reject.message });
}

/** `set` and `default` values as the draft holds them (a stop list, even when one string was given). */
function entries(values: RuleConfig['set']): [RuleField, FieldValues[RuleField]][] {
  if (values === undefined) return [];
  return Object.entries(values).filter(([, v]) => v !== undefined) as [RuleField, FieldValues[RuleField]][];
}
