import type { GatewayError } from '../../errors/gateway-error.js';
import type { ClientProtocolName } from '../../protocol/client/protocol.js';
import type { CompletionRequest } from '../../protocol/model.js';
import type { RuleConfig } from '../rules-schema.js';
import { compileActions, compileReject, type Action } from './actions.js';
import { Draft } from './draft.js';
import { compileMatch, Subject, type RuleHttp, type RuleIdentity, type Test } from './match.js';

/** One rule, compiled once per config. */
interface CompiledRule {
  readonly name: string;
  readonly tests: readonly Test[];
  readonly actions: readonly Action[];
  readonly reject: GatewayError | undefined;
  readonly final: boolean;
}

/** What the rules decided for one request, when at least one fired. */
export interface RuleOutcome {
  /** Names of the rules that fired, in order. */
  readonly fired: readonly string[];
  /** The request as the rules left it (the same object when none changed anything). */
  readonly req: CompletionRequest;
  /** Set when a rule refused the request: answer with this error. */
  readonly reject: GatewayError | undefined;
}

/** Rule positions (ascending) a request must look at: those whose protocol and model could match. */
type Candidates = readonly number[];

/** Per client protocol: candidates by the model the request names, and for any other model. */
interface ProtocolIndex {
  readonly byModel: ReadonlyMap<string, Candidates>;
  readonly otherModels: Candidates;
}

const PROTOCOLS: readonly ClientProtocolName[] = ['copilot', 'openai', 'codestral', 'tabby'];

/**
 * `policy.rules`, compiled. Every rule that matches applies, in list order, and each sees the
 * request as the rules before it left it (a `routeTo` changes the model later rules match on); a
 * rule that rejects ends the evaluation and the request; a rule with `final: true` ends the
 * evaluation after its edits.
 *
 * A request pays for the rules that could match it: rules are indexed by client protocol and by
 * the exact model names they match, so a request walks one precomputed, ordered list of candidates
 * and runs only their remaining conditions, cheapest first. A request no rule fires for is not
 * copied: its body and bytes go upstream untouched.
 */
export class RuleSet {
  readonly #rules: readonly CompiledRule[];
  readonly #index: Readonly<Record<ClientProtocolName, ProtocolIndex>>;

  constructor(rules: readonly RuleConfig[]) {
    const compiled = rules.map((r) => ({ config: r, match: compileMatch(r.match) }));
    this.#rules = compiled.map(({ config, match }) => ({
      name: config.name,
      tests: match.tests,
      actions: compileActions(config),
      reject: compileReject(config),
      final: config.final,
    }));
    const models = new Set(compiled.flatMap(({ match }) => match.models ?? []));
    const index = {} as Record<ClientProtocolName, ProtocolIndex>;
    for (const protocol of PROTOCOLS) {
      const forProtocol = compiled
        .map(({ match }, i) => ({ match, i }))
        .filter(({ match }) => match.protocols === undefined || match.protocols.has(protocol));
      const candidates = (model: string | undefined): Candidates =>
        forProtocol
          .filter(
            ({ match }) =>
              match.models === undefined || (model !== undefined && match.models.includes(model)),
          )
          .map(({ i }) => i);
      index[protocol] = {
        byModel: new Map([...models].map((m) => [m, candidates(m)])),
        otherModels: candidates(undefined),
      };
    }
    this.#index = index;
  }

  /** How many rules there are. */
  get size(): number {
    return this.#rules.length;
  }

  /**
   * Runs the rules for one decoded request. Undefined when none fired (the common case, and
   * nothing to record); otherwise the rules that fired and the rewritten request, or the
   * refusal. Never throws for anything a client sent.
   */
  apply(
    req: CompletionRequest,
    protocol: ClientProtocolName,
    http: RuleHttp,
    identity: RuleIdentity | undefined,
  ): RuleOutcome | undefined {
    const index = this.#index[protocol];
    let list = this.#candidates(index, req.model);
    if (list.length === 0) return undefined;
    const subject = new Subject(req, http, identity);
    let draft: Draft | undefined;
    let fired: string[] | undefined;
    for (let i = 0; i < list.length; i++) {
      const at = list[i] as number;
      const rule = this.#rules[at] as CompiledRule;
      if (!allHold(rule.tests, subject)) continue;
      (fired ??= []).push(rule.name);
      if (rule.reject !== undefined) return { fired, req, reject: rule.reject };
      if (rule.actions.length > 0) {
        draft ??= new Draft(req);
        for (const act of rule.actions) act(draft);
        if (draft.model !== subject.model) {
          // Routed to another model: go on with the rules after this one that could match it.
          subject.model = draft.model;
          list = this.#candidates(index, draft.model);
          i = firstAfter(list, at) - 1;
        }
      }
      if (rule.final) break;
    }
    if (fired === undefined) return undefined;
    return { fired, req: draft === undefined ? req : draft.finish(), reject: undefined };
  }

  #candidates(index: ProtocolIndex, model: string | undefined): Candidates {
    return (model === undefined ? undefined : index.byModel.get(model)) ?? index.otherModels;
  }
}

function allHold(tests: readonly Test[], s: Subject): boolean {
  for (const t of tests) if (!t(s)) return false;
  return true;
}

/** The position of the first candidate after rule `at` (the list's length when there is none). */
function firstAfter(list: Candidates, at: number): number {
  let i = 0;
  while (i < list.length && (list[i] as number) <= at) i++;
  return i;
}
