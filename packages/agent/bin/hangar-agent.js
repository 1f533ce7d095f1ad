#!/usr/bin/env node
process.stderr.write('error: hangar-agent arrives with the device connectivity issue\n');
process.exitCode = 1;
