#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
import { main } from '../dist/main.js';

// `modelseal inspect model.sig | head`: a closed pipe ends the command quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const controller = new AbortController();
process.once('SIGINT', () => {
  controller.abort();
  process.exitCode = 130;
});
const { processIo } = await import('../dist/io.js');
process.exitCode = await main(
  process.argv.slice(2),
  processIo(controller.signal),
);
