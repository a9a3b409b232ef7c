import diagnostics_channel from 'node:diagnostics_channel';
import type { RequestContext } from '../proxy/context.js';

/**
 * The data path publishes; metrics, logs and the dashboard subscribe. Publishing to a channel
 * with no subscribers is a cheap no-op, so telemetry that is off costs nothing per request.
 */
export const channels = {
  /** A request was accepted and routed to a handler. Message: RequestContext. */
  requestStart: diagnostics_channel.channel('ghostwire:request:start'),
  /** A request finished, whatever the outcome (ok, client_cancel, error). Message: RequestContext. */
  requestEnd: diagnostics_channel.channel('ghostwire:request:end'),
  /** The request's signal fired (client went away, deadline). Message: RequestContext. */
  requestAbort: diagnostics_channel.channel('ghostwire:request:abort'),
} as const;

export type RequestEndMessage = RequestContext;
