#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
import { createRequire, enableCompileCache } from 'node:module';

// Start-up: Node keeps the compiled code of modelseal and its dependencies in
// its on-disk compile cache between runs (NODE_DISABLE_COMPILE_CACHE=1 turns
// it off), and `--version` answers before anything else is loaded.
enableCompileCache?.();
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(
    `${createRequire(import.meta.url)('../package.json').version}\n`,
  );
  process.exit(0);
}

// `modelseal inspect model.sig | head`: a closed pipe ends the command quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// Ctrl-C (SIGINT): the command is aborted through its signal and ends with one
// line, "modelseal: interrupted", and exit code 130. Work that does not stop
// within GRACE_MS (a service call, a parser between checks), or a second
// Ctrl-C, ends the process at once with the same line and code.
const GRACE_MS = 2000;
const controller = new AbortController();
let finished = false;
const interruptNow = () => {
  if (finished) return;
  finished = true;
  // A progress bar may be on the line: clear it first.
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
  process.stderr.write('modelseal: interrupted\n');
  process.exit(130);
};
let grace;
process.on('SIGINT', () => {
  if (controller.signal.aborted) interruptNow();
  controller.abort(new Error('interrupted'));
  grace = setTimeout(interruptNow, GRACE_MS);
});
const { main } = await import('../dist/main.js');
const { processIo } = await import('../dist/io.js');
const code = await main(args, processIo(controller.signal));
finished = true;
clearTimeout(grace);
process.exitCode = code;
