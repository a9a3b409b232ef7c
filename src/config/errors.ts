// Kept apart from load.ts so code that only reports config problems does not load the schema.

/** A config problem at one path, in words an operator can act on. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Thrown when a config file cannot be used; carries every problem found, not just the first. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(source: string, problems: ConfigProblem[]) {
    super(
      `${source}: ${problems.length} problem(s)\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
