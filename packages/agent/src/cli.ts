/**
 * `hangar-agent`: the device agent (arrives with the agent issue) and `hangar-agent simulate`,
 * the fleet simulator. Errors end the process with one line and exit code 1.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerSimulateCommand } from './simulate-command.js';

/** @hangar/agent's version; package.json is one level up from both src/ and dist/. */
export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('hangar-agent')
    .description('Hangar device agent and fleet simulator')
    .version(VERSION, '-v, --version', 'print the version')
    .showHelpAfterError(false)
    // The real agent takes these; until it exists they are accepted only to say so.
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new Error('the device agent is not built yet (it arrives with the agent issue); `hangar-agent simulate --help` runs the fleet simulator');
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
