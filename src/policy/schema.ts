import { z } from 'zod';
import { RateLimitsConfig } from './limits-schema.js';
import { SupersessionConfig } from './supersession-schema.js';

/**
 * `policy`: what the gateway decides about a request beyond routing it. Each feature keeps its
 * schema in its own file; this composes them.
 */
export const PolicyConfig = z.strictObject({
  limits: RateLimitsConfig.prefault({}),
  supersession: SupersessionConfig.prefault({}),
});

export type PolicyConfig = z.output<typeof PolicyConfig>;
