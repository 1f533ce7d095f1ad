import { HangarError } from '../../errors.js';

/** A command name: what the device's handler is registered under. */
export const COMMAND_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Names the Hangar agent handles itself (docs/commands.md). The server takes any valid name: a
 * device type that does not know one answers `failed`.
 */
export const BUILT_IN_COMMANDS = ['reboot', 'ping', 'upload-logs', 'factory-reset', 'get-system-info'] as const;

export const COMMAND_LIMITS = {
  paramsMaxBytes: 16 * 1024,
  resultMaxBytes: 64 * 1024,
  errorMaxChars: 4096,
  defaultTimeoutSec: 30,
  maxTimeoutSec: 86_400,
  defaultTtlSec: 86_400,
  maxTtlSec: 30 * 86_400,
} as const;

export interface CommandInput {
  name: string;
  params?: unknown;
  timeoutSec?: number | undefined;
  ttlSec?: number | undefined;
}

export interface CheckedCommand {
  name: string;
  params: Record<string, unknown>;
  timeoutSec: number;
  ttlSec: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value;
}

function wholeSeconds(value: unknown, field: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) throw new HangarError('VALIDATION_FAILED', `${field} must be a whole number of seconds from 1 to ${max}`);
  return value;
}

/** Checks what an operator (or a job) asks a device to do; throws VALIDATION_FAILED or PAYLOAD_TOO_LARGE. */
export function checkCommand(input: CommandInput): CheckedCommand {
  if (typeof input.name !== 'string' || !COMMAND_NAME_PATTERN.test(input.name)) {
    throw new HangarError('VALIDATION_FAILED', `command name ${JSON.stringify(input.name)} is not valid: 1 to 64 characters of A-Z a-z 0-9 . _ -`);
  }
  const params = input.params ?? {};
  if (!isPlainObject(params)) throw new HangarError('VALIDATION_FAILED', `params must be a JSON object, not ${describe(params)}`);
  const size = Buffer.byteLength(JSON.stringify(params));
  if (size > COMMAND_LIMITS.paramsMaxBytes) throw new HangarError('PAYLOAD_TOO_LARGE', `params are ${size} bytes of JSON; a command's params may hold at most ${COMMAND_LIMITS.paramsMaxBytes}`);
  return {
    name: input.name,
    params,
    timeoutSec: wholeSeconds(input.timeoutSec, 'timeoutSec', COMMAND_LIMITS.defaultTimeoutSec, COMMAND_LIMITS.maxTimeoutSec),
    ttlSec: wholeSeconds(input.ttlSec, 'ttlSec', COMMAND_LIMITS.defaultTtlSec, COMMAND_LIMITS.maxTtlSec),
  };
}

export interface CommandResult {
  status: 'succeeded' | 'failed';
  result: unknown;
  error: string | null;
}

/** Checks a device's answer `{"status":"succeeded"|"failed","result":…,"error"?:…}`. */
export function checkResult(body: unknown): CommandResult {
  if (!isPlainObject(body)) throw new HangarError('VALIDATION_FAILED', `a command result must be a JSON object {"status":"succeeded"|"failed","result":…}, not ${describe(body)}`);
  const { status, result, error } = body;
  if (status !== 'succeeded' && status !== 'failed') throw new HangarError('VALIDATION_FAILED', `a command result's status must be "succeeded" or "failed", not ${JSON.stringify(status) ?? 'missing'}`);
  if (error !== undefined && error !== null && typeof error !== 'string') throw new HangarError('VALIDATION_FAILED', 'a command result\'s error must be a string');
  if (typeof error === 'string' && error.length > COMMAND_LIMITS.errorMaxChars) throw new HangarError('PAYLOAD_TOO_LARGE', `a command result's error may hold at most ${COMMAND_LIMITS.errorMaxChars} characters`);
  const value = result === undefined ? null : result;
  const size = Buffer.byteLength(JSON.stringify(value));
  if (size > COMMAND_LIMITS.resultMaxBytes) throw new HangarError('PAYLOAD_TOO_LARGE', `the result is ${size} bytes of JSON; a command result may hold at most ${COMMAND_LIMITS.resultMaxBytes}`);
  return { status, result: value, error: typeof error === 'string' ? error : null };
}
