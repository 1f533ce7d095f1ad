/**
 * `hangar-agent`: the device agent (docs/agent.md) and `hangar-agent simulate`, the fleet
 * simulator. Errors end the process with one line and exit code 1.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { addAgentOptions, planAgent, runAgent } from './agent-command.js';
import { registerSimulateCommand } from './simulate-command.js';

/** @hangar/agent's version; package.json is one level up from both src/ and dist/. */
export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('hangar-agent')
    .description('Hangar device agent (`hangar-agent simulate --help`: the fleet simulator)')
    .version(VERSION, '-v, --version', 'print the version')
    .showHelpAfterError(false)
    // The agent's own flags and the simulator's share names (--server, --ca): keep them apart.
    .enablePositionalOptions();
  addAgentOptions(program).action(async (flags: Record<string, string | boolean>) => {
    await runAgent(planAgent(flags, VERSION));
  });
  registerSimulateCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
