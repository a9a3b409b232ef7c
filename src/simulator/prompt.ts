/** How much of the prompt's tail the generator looks at; keeps per-request work bounded. */
export const CONTEXT_WINDOW_CHARS = 8 * 1024;

/** Fill-in-the-middle layouts where the prefix comes first and the prompt ends with the "middle" marker. */
const PSM_SENTINELS: readonly { prefix: string; suffix: string; middle: string }[] = [
  { prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>' }, // StarCoder, SantaCoder
  { prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>' }, // Qwen2.5-Coder
  { prefix: '<PRE> ', suffix: ' <SUF>', middle: ' <MID>' }, // CodeLlama
  { prefix: '<｜fim▁begin｜>', suffix: '<｜fim▁hole｜>', middle: '<｜fim▁end｜>' }, // DeepSeek-Coder
];
const CODESTRAL_PREFIX = '[PREFIX]';

/**
 * The code the model should continue: the prompt's tail, or for a gateway-built FIM prompt the
 * prefix part (a real model continues the code before the hole, not the sentinel tokens).
 */
export function codeContext(prompt: string): string {
  for (const s of PSM_SENTINELS) {
    if (!prompt.endsWith(s.middle)) continue;
    const hole = prompt.lastIndexOf(s.suffix);
    const begin = hole < 0 ? -1 : prompt.lastIndexOf(s.prefix, hole);
    if (begin >= 0) return tail(prompt.slice(begin + s.prefix.length, hole));
  }
  // startsWith first: it is O(1), and the lastIndexOf would otherwise scan every plain prompt.
  if (prompt.startsWith('[SUFFIX]')) {
    const codestral = prompt.lastIndexOf(CODESTRAL_PREFIX);
    if (codestral >= 0) return tail(prompt.slice(codestral + CODESTRAL_PREFIX.length));
  }
  return tail(prompt);
}

function tail(text: string): string {
  return text.length > CONTEXT_WINDOW_CHARS ? text.slice(-CONTEXT_WINDOW_CHARS) : text;
}
