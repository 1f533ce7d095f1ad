// The `hangar-agent` executable's entry; cli.ts stays importable without running anything.
import { main } from './cli.js';

await main(process.argv);
