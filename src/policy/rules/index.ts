export { RuleSet, type RuleOutcome } from './rule-set.js';
export type { RuleHttp, RuleIdentity } from './match.js';
