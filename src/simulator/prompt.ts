/** How much of the prompt's tail the generator looks at; keeps per-request work bounded. */
export const CONTEXT_WINDOW_CHARS = 8 * 1024;

/** The fill-in-the-middle prompt templates gateways build for servers that take no `suffix` (vLLM). */
export type FimTemplateName = 'starcoder' | 'qwen2.5-coder' | 'codellama' | 'deepseek-coder' | 'codestral';

/** Layouts where the prefix comes first and the prompt ends with the "middle" marker (PSM). */
const PSM_TEMPLATES: readonly { name: FimTemplateName; prefix: string; suffix: string; middle: string }[] = [
  { name: 'starcoder', prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>' }, // + SantaCoder
  { name: 'qwen2.5-coder', prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>' }, // Qwen2.5-Coder
  { name: 'codellama', prefix: '<PRE> ', suffix: ' <SUF>', middle: ' <MID>' },
  { name: 'deepseek-coder', prefix: '<｜fim▁begin｜>', suffix: '<｜fim▁hole｜>', middle: '<｜fim▁end｜>' }, // DeepSeek-Coder
];
/** Codestral puts the suffix first: `[SUFFIX]{s}[PREFIX]{p}`. */
const CODESTRAL_SUFFIX = '[SUFFIX]';
const CODESTRAL_PREFIX = '[PREFIX]';

/** A prompt recognised as a FIM template, split back into its parts. */
export interface FimSplit {
  template: FimTemplateName;
  prefix: string;
  suffix: string;
}

/** Splits a prompt built from a known FIM template; undefined for any other prompt. */
export function splitFimPrompt(prompt: string): FimSplit | undefined {
  for (const t of PSM_TEMPLATES) {
    if (!prompt.endsWith(t.middle)) continue;
    const hole = prompt.lastIndexOf(t.suffix);
    const begin = hole < 0 ? -1 : prompt.lastIndexOf(t.prefix, hole);
    if (begin >= 0) {
      return {
        template: t.name,
        prefix: prompt.slice(begin + t.prefix.length, hole),
        suffix: prompt.slice(hole + t.suffix.length, prompt.length - t.middle.length),
      };
    }
  }
  // startsWith first: it is O(1), and the lastIndexOf would otherwise scan every plain prompt.
  if (prompt.startsWith(CODESTRAL_SUFFIX)) {
    const at = prompt.lastIndexOf(CODESTRAL_PREFIX);
    if (at >= 0) {
      return {
        template: 'codestral',
        prefix: prompt.slice(at + CODESTRAL_PREFIX.length),
        suffix: prompt.slice(CODESTRAL_SUFFIX.length, at),
      };
    }
  }
  return undefined;
}

/**
 * The code the model should continue: the prompt's tail, or for a gateway-built FIM prompt the
 * prefix part (a real model continues the code before the hole, not the sentinel tokens).
 */
export function codeContext(prompt: string): string {
  return contextWindow(splitFimPrompt(prompt)?.prefix ?? prompt);
}

/** The last CONTEXT_WINDOW_CHARS of the code to continue. */
export function contextWindow(text: string): string {
  return text.length > CONTEXT_WINDOW_CHARS ? text.slice(-CONTEXT_WINDOW_CHARS) : text;
}
