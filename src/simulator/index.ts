// The model-server simulator: a stand-in GPU server for tests, benchmarks and the gateway's default upstream.
export { startSimulator, type Simulator } from './server.js';
export {
  SIMULATOR_DEFAULTS,
  resolveSimulatorOptions,
  type SimulatorOptions,
  type ResolvedSimulatorOptions,
} from './options.js';
export type { SimulatorStats } from './stats.js';
export { CANCEL_LOG_LIMIT, type CancelAgeSummary, type CancelRecord } from './cancel-log.js';
export type { RecordedRequest } from './completion.js';
export type { WireFormat, ResponseEncoder } from './formats/format.js';
export type { FimTemplateName } from './prompt.js';
