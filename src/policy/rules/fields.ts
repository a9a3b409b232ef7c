/** The body fields rewrite rules edit, by their OpenAI names (kept apart from the schema: no zod here). */
export const RULE_FIELDS = [
  'max_tokens',
  'temperature',
  'top_p',
  'n',
  'stop',
  'seed',
  'logprobs',
  'logit_bias',
] as const;

export type RuleField = (typeof RULE_FIELDS)[number];
