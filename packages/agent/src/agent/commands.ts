/**
 * Command handlers: user-registered ones first, then the built-ins (`ping`,
 * `get-system-info`, `upload-logs`, `reboot`, `factory-reset`), then executables of the
 * commands directory. Every command gets exactly one answer; a handler that throws, a missing
 * hook or an unknown name answers `failed` with the reason.
 */
import { spawn } from 'node:child_process';
import { findScript, runScript } from './script-runner.js';

/** What a device receives on `devices/{id}/commands/{cmdId}` (and from the HTTP long-poll). */
export interface CommandRequest {
  id: string;
  name: string;
  params: unknown;
  expiresAt: number | null;
  timeoutSec: number;
}

/** The body of `devices/{id}/commands/{cmdId}/result`. */
export interface CommandResult {
  status: 'succeeded' | 'failed';
  result: unknown;
  error?: string;
}

export interface CommandContext {
  command: CommandRequest;
  /** Aborted when the command's timeout passes. */
  signal: AbortSignal;
}

/** Returns the result (any JSON); throws to fail the command with the error's message. */
export type CommandHandler = (params: unknown, ctx: CommandContext) => unknown;

export interface BuiltinHooks {
  /** Shell command lines run by `reboot` / `factory-reset` (e.g. `systemctl reboot`). */
  rebootCommand?: string | undefined;
  factoryResetCommand?: string | undefined;
  systemInfo: () => Record<string, unknown>;
  /** Sends the log backlog; resolves to the number of records sent. */
  uploadLogs: () => Promise<number>;
}

const DEFAULT_TIMEOUT_SEC = 30;
/** Results kept for redelivered commands (QoS 1 may deliver one twice): answered again, not rerun. */
const REMEMBERED = 256;

export class CommandRegistry {
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly done = new Map<string, Promise<CommandResult>>();

  constructor(
    private readonly hooks: BuiltinHooks,
    private readonly scriptsDir?: string,
    /** Wraps every run (the simulator injects failures and delays here). */
    private readonly around?: (command: CommandRequest, run: () => Promise<CommandResult>) => Promise<CommandResult>,
  ) {
    this.handlers.set('ping', () => ({ pong: Date.now() }));
    this.handlers.set('get-system-info', () => this.hooks.systemInfo());
    this.handlers.set('upload-logs', async () => ({ uploaded: await this.hooks.uploadLogs() }));
    this.handlers.set('reboot', (_p, ctx) => runHook('reboot', this.hooks.rebootCommand, ctx.signal));
    this.handlers.set('factory-reset', (_p, ctx) => runHook('factory-reset', this.hooks.factoryResetCommand, ctx.signal));
  }

  /** Registers (or replaces, built-ins included) the handler of `name`. */
  register(name: string, handler: CommandHandler): void {
    this.handlers.set(name, handler);
  }

  /** Runs the command once per id; a repeated id gets the first run's result. */
  execute(command: CommandRequest): Promise<CommandResult> {
    const known = this.done.get(command.id);
    if (known) return known;
    const running = this.around ? this.around(command, () => this.run(command)) : this.run(command);
    this.done.set(command.id, running);
    if (this.done.size > REMEMBERED) this.done.delete(this.done.keys().next().value!);
    return running;
  }

  private async run(command: CommandRequest): Promise<CommandResult> {
    if (command.expiresAt !== null && command.expiresAt < Date.now()) return { status: 'failed', result: null, error: 'the command expired before it reached the device' };
    const timeoutMs = (command.timeoutSec > 0 ? command.timeoutSec : DEFAULT_TIMEOUT_SEC) * 1000;
    const handler = this.handlers.get(command.name);
    if (!handler) {
      const script = this.scriptsDir ? findScript(this.scriptsDir, command.name) : undefined;
      if (!script) return { status: 'failed', result: null, error: `unknown command "${command.name}"` };
      const outcome = await runScript(script, { name: command.name, commandId: command.id, params: command.params, timeoutMs });
      return outcome.ok ? { status: 'succeeded', result: outcome.result ?? null } : { status: 'failed', result: null, error: outcome.error ?? 'failed' };
    }
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new Error(`the handler did not finish within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
    });
    try {
      const result = await Promise.race([Promise.resolve().then(() => handler(command.params, { command, signal: abort.signal })), timeout]);
      return { status: 'succeeded', result: result === undefined ? null : result };
    } catch (err) {
      return { status: 'failed', result: null, error: err instanceof Error ? err.message : String(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs a hook line through `sh -c`; never reboots anything unless the operator configured it. */
async function runHook(name: string, line: string | undefined, signal: AbortSignal): Promise<unknown> {
  if (!line) throw new Error(`${name} is not configured on this device (start the agent with --${name}-command)`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', line], { stdio: 'ignore', signal });
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`the ${name} command exited with ${code}`);
  return { started: true };
}
