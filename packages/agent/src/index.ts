// The device agent arrives with the agent issue; the fleet simulator is usable as a library.
export { isValidDeviceId } from '@hangar/protocol';
export * from './simulator/index.js';
