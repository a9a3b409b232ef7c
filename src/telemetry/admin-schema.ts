import { z } from 'zod';

/**
 * `telemetry.admin`: where the operator pages (/metrics, /dashboard) are served. With `port`
 * set they get their own listener (plain HTTP/1.1 + h2c, meant for a private network) and the
 * client-facing listeners do not serve them at all. Without it they are served on the
 * client-facing listeners. Owner: metrics (admin plumbing).
 */
export const AdminConfig = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).optional(),
});
