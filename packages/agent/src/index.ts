// The device agent and fleet simulator arrive with the connectivity and agent issues.
export { isValidDeviceId } from '@hangar/protocol';
