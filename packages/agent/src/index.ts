// The device agent and the fleet simulator, usable as libraries.
export { isValidDeviceId } from '@hangar/protocol';
export * from './simulator/index.js';
export * from './agent/index.js';
export * from './lwm2m/index.js';
