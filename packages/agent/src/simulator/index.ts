export { simulate, fleetConfig, SimulationError, type SimulateOptions, type SimulationSummary, type SimulationProgress } from './simulate.js';
export type { FleetConfig, PublishMode, MqttVersion } from './config.js';
export { parseCredentials, readCredentialsFile, writeCredentialsFile, simulatedDeviceIds, CredentialsError, type DeviceCredential } from './credentials.js';
export { provisionThroughApi, enrollThroughGroup, ProvisioningError, type ProvisionOptions, type EnrollOptions } from './provision.js';
export { formatProgress } from './progress.js';
export type { StatsSnapshot } from './stats.js';
export {
  simulateAgents,
  formatAgentProgress,
  NO_FAILURES,
  NO_OTA_FAILURES,
  type AgentFleetOptions,
  type AgentFleetSummary,
  type FailureInjection,
  type OtaInjection,
  type OtaCounts,
} from './virtual-agents.js';
