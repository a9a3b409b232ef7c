import type { RequestContext } from '../proxy/context.js';
import type { ClientExchange } from '../server/exchange.js';

/** Serves one operator page or feed (GET /metrics, /dashboard, its SSE stream...). */
export type AdminHandler = (ex: ClientExchange, ctx: RequestContext) => void | Promise<void>;

/**
 * The operator routes, by exact path. Each telemetry part registers its own; the gateway asks
 * here before answering 404, on whichever listener serves them (telemetry.admin).
 */
export class AdminRoutes {
  private readonly byPath = new Map<string, AdminHandler>();

  add(path: string, handler: AdminHandler): void {
    if (this.byPath.has(path)) throw new Error(`admin route ${path} registered twice`);
    this.byPath.set(path, handler);
  }

  get(path: string): AdminHandler | undefined {
    return this.byPath.get(path);
  }

  get paths(): string[] {
    return [...this.byPath.keys()];
  }
}
