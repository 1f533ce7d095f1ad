/**
 * `hangar query 'FLEET QUERY'` — the devices a fleet query (DESIGN.md §7) selects, through
 * `GET /devices?q=…`. A query the server rejects is shown with a caret under the position it
 * names.
 */
import type { Command } from 'commander';
import { paginate } from '../client/api-client.js';
import {
  addClientOptions,
  clientFor,
  printJson,
  resolveIo,
  runAction,
  type CliIo,
  type ClientCommandOptions,
} from '../client/output.js';
import { MAX_PAGE_SIZE, listDevices, parseLimit } from './device.js';

interface QueryOptions extends ClientCommandOptions {
  limit?: number;
  cursor?: string;
  all?: boolean;
  count?: boolean;
}

export function registerQueryCommand(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  addClientOptions(
    program
      .command('query')
      .description('list the devices a fleet query selects')
      .argument('<query>', `fleet query, e.g. 'tags.site = "berlin" AND NOT online'`)
      .option('--limit <n>', `page size (1-${MAX_PAGE_SIZE})`, parseLimit)
      .option('--cursor <cursor>', 'continue from a previous page')
      .option('--all', 'follow nextCursor to the last page')
      .option('--count', 'print only the number of matching devices')
      .addHelpText(
        'after',
        '\nFields: id, type, status, online, lastSeen, firmware.version, tags.K, twin.desired.K,\n' +
          'twin.reported.K, telemetry.K. Operators: = != < <= > >= IN ~ (glob), AND OR NOT, ( ).',
      ),
  ).action(async (query: string, options: QueryOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        if (options.count) {
          // The API has no count-only answer yet; walking the pages keeps the count exact.
          let count = 0;
          const pages = paginate((cursor) =>
            client.listDevices({ q: query, limit: MAX_PAGE_SIZE, ...(cursor !== undefined ? { cursor } : {}) }),
          );
          for await (const page of pages) count += page.items.length;
          if (options.json) printJson({ count }, io.stdout);
          else io.stdout.write(`${count}\n`);
          return;
        }
        await listDevices(client, io, {
          q: query,
          limit: options.limit,
          cursor: options.cursor,
          all: options.all,
          json: options.json,
        });
      },
      { query },
    );
  });
}
