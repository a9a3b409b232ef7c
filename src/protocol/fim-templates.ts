/**
 * Fill-in-the-middle prompt templates: how a model that was trained on FIM expects prefix and
 * suffix, for servers that take a raw prompt (vLLM, TGI) and cannot be given `suffix`. Data, one
 * row per model family; a deployment picks one with `fimTemplate`. `stop` lists the tokens these
 * models emit at the end of a fill, which the gateway adds to the request's stop sequences.
 */
export const FIM_TEMPLATES = {
  starcoder: {
    template: '<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>',
    stop: ['<|endoftext|>', '<file_sep>'],
  },
  'qwen2.5-coder': {
    template: '<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>',
    stop: ['<|endoftext|>', '<|fim_pad|>', '<|file_sep|>', '<|repo_name|>'],
  },
  codellama: {
    template: '<PRE> {prefix} <SUF>{suffix} <MID>',
    stop: ['<EOT>'],
  },
  'deepseek-coder': {
    template: '<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>',
    stop: ['<｜end▁of▁sentence｜>', '<|EOT|>'],
  },
  codestral: {
    template: '[SUFFIX]{suffix}[PREFIX]{prefix}',
    stop: ['</s>'],
  },
} as const satisfies Record<string, { template: string; stop: readonly string[] }>;

export type FimTemplateName = keyof typeof FIM_TEMPLATES;
export const FIM_TEMPLATE_NAMES = Object.keys(FIM_TEMPLATES) as FimTemplateName[];

/** A template split once at its placeholders, so user text is never scanned for them. */
export interface CompiledFimTemplate {
  readonly name: FimTemplateName;
  readonly stop: readonly string[];
  build(prefix: string, suffix: string): string;
}

/** Compiles a template row: the placeholders become slots, filled by concatenation. */
export function compileFimTemplate(name: FimTemplateName): CompiledFimTemplate {
  const { template, stop } = FIM_TEMPLATES[name];
  const parts = template.split(/(\{prefix\}|\{suffix\})/);
  return {
    name,
    stop,
    build(prefix: string, suffix: string): string {
      let out = '';
      for (const p of parts) out += p === '{prefix}' ? prefix : p === '{suffix}' ? suffix : p;
      return out;
    },
  };
}
