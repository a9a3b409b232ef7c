import { z } from 'zod';
import { AdminConfig } from './admin-schema.js';
import { DashboardConfig } from './dashboard-schema.js';
import { LogsConfig } from './logs-schema.js';
import { MetricsConfig } from './metrics-schema.js';

/**
 * `telemetry`: what the gateway tells operators. Each part keeps its schema in its own file;
 * this composes them. Tracing has no section: it follows the standard OTEL_* variables.
 */
export const TelemetryConfig = z.strictObject({
  admin: AdminConfig.prefault({}),
  metrics: MetricsConfig.prefault({}),
  logs: LogsConfig.prefault({}),
  dashboard: DashboardConfig.prefault({}),
});

export type TelemetryConfig = z.output<typeof TelemetryConfig>;
