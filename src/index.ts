/** Public API for embedding ghostwire in-process (tests, benchmarks, custom launchers). */
export { startGateway, type Gateway } from './server/gateway.js';
export { validateConfig, loadConfigFile, ConfigError } from './config/load.js';
export type { GatewayConfig, GatewayConfigInput } from './config/schema.js';
export {
  startSimulator,
  SIMULATOR_DEFAULTS,
  type Simulator,
  type SimulatorOptions,
} from './simulator/index.js';
export { channels } from './telemetry/events.js';
export { ERROR_TABLE, type ErrorCode } from './errors/codes.js';
