#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
import { main } from '../dist/main.js';

const controller = new AbortController();
process.once('SIGINT', () => {
  controller.abort();
  process.exitCode = 130;
});
const { processIo } = await import('../dist/io.js');
process.exitCode = await main(process.argv.slice(2), processIo(controller.signal));
