import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { deepFreeze } from './freeze.js';
import { GatewayConfigSchema, type GatewayConfig } from './schema.js';

export { ConfigError, type ConfigProblem } from './errors.js';
export { deepFreeze } from './freeze.js';

/** Renders a zod path the way users write it in YAML: `models[0].deployments[1]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(root)' : out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return issue.message;
}

/** Validates an already-parsed config value; returns it frozen or throws ConfigError. */
export function validateConfig(value: unknown, source = 'config'): GatewayConfig {
  const result = GatewayConfigSchema.safeParse(value);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: describeIssue(issue) })),
    );
  }
  return deepFreeze(result.data);
}

/** Reads, parses (YAML or JSON) and validates a config file. */
export function loadConfigFile(file: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigError(file, [{ path: '(file)', message: `cannot read the file (${code})` }]);
  }
  let value: unknown;
  try {
    value = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const message = err instanceof YAMLParseError ? (err.message.split('\n')[0] ?? err.message) : String(err);
    throw new ConfigError(file, [{ path: '(syntax)', message }]);
  }
  if (value === null || value === undefined) {
    throw new ConfigError(file, [
      { path: '(root)', message: 'the file is empty; expected a mapping with deployments and models' },
    ]);
  }
  return validateConfig(value, file);
}
