import { z } from 'zod';

/** `telemetry.dashboard`: the live page and its SSE feed. Owner: dashboard. */
export const DashboardConfig = z.strictObject({
  enabled: z.boolean().default(true),
});
