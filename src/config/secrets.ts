import { readFileSync } from 'node:fs';
import type { SecretSource } from './schema.js';

/** Resolves a secret from its source at start; the error names the source, never the value. */
export function resolveSecret(source: SecretSource, where: string): string {
  if (typeof source === 'string') return source;
  if ('env' in source) {
    const v = process.env[source.env];
    if (v === undefined || v === '')
      throw new Error(`${where}: environment variable ${source.env} is not set`);
    return v;
  }
  try {
    return readFileSync(source.file, 'utf8').trim();
  } catch (err) {
    throw new Error(
      `${where}: cannot read secret file ${source.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}
