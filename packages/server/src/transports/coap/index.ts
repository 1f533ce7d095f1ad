export { CoapDeviceEndpoint, DEFAULT_LIMITS, type CoapDeviceEndpointOptions, type CoapLimits } from './device-endpoint.js';
export { commandReader, twinUplink, type CommandReader, type DeviceUplink, type LogUplink, type TwinReader } from './device-ports.js';
export type { CoapTiming } from './coap-server.js';
