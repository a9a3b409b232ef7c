import { z } from 'zod';

/** `telemetry.metrics`: the Prometheus endpoint. Owner: metrics. */
export const MetricsConfig = z.strictObject({
  enabled: z.boolean().default(true),
  path: z.string().startsWith('/').default('/metrics'),
});
