import type { GatewayConfig } from '../config/schema.js';
import { AdminRoutes } from './admin-routes.js';

/**
 * The process's telemetry: metrics, logs, tracing and the dashboard, each subscribed to the data
 * path's events (events.ts) and each registering its operator routes here. Built once per
 * gateway at start; its settings (telemetry.*) need a restart to change.
 */
export class Telemetry {
  readonly routes = new AdminRoutes();
  private readonly stops: (() => void | Promise<void>)[] = [];

  private constructor(readonly config: GatewayConfig['telemetry']) {}

  static start(config: GatewayConfig['telemetry']): Telemetry {
    const t = new Telemetry(config);
    // Parts subscribe here, each pushing its unsubscribe onto t.stops.
    return t;
  }

  /** Adds something to undo at close (an unsubscribe, a timer, an exporter to flush). */
  onClose(stop: () => void | Promise<void>): void {
    this.stops.push(stop);
  }

  async close(): Promise<void> {
    const stops = this.stops.splice(0).reverse();
    for (const stop of stops) await stop();
  }
}
