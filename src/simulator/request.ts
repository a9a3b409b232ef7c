/** A validated completion request as the generation needs it, whichever wire format carried it. */
export interface CompletionRequest {
  model: string;
  /** The text the model continues: the prompt, or the code before the hole of a fill-in-the-middle request. */
  prompt: string;
  /** The code after the hole (fill-in-the-middle); '' when none. */
  suffix: string;
  maxTokens: number;
  /** 0 decodes greedily; above 0 samples. */
  temperature: number;
  /** Choices; always 1 for formats that have no `n`. */
  n: number;
  stop: readonly string[];
  stream: boolean;
  /** The request's own sampling seed (random_seed, TGI's seed, ...); undefined: the simulator's --seed. */
  seed: number | undefined;
}
