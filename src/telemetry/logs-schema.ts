import { z } from 'zod';

/** `telemetry.logs`: structured logs (pino). Owner: logs. */
export const LogsConfig = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Fraction of access lines written (0..1); errors are always written. */
  accessSample: z.number().min(0).max(1).default(1),
});
