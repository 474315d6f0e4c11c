// SPDX-License-Identifier: Apache-2.0
/**
 * The modelseal command line: argument parsing and presentation only. Every
 * decision is made by @modelseal/core.
 */
import { createRequire } from 'node:module';
import { diffCommand, DIFF_HELP } from './commands/diff.js';
import { digestCommand, DIGEST_HELP } from './commands/digest.js';
import { inspectCommand, INSPECT_HELP } from './commands/inspect.js';
import { signCommand, SIGN_HELP } from './commands/sign.js';
import { verifyCommand, VERIFY_HELP } from './commands/verify.js';
import { EXIT, EXIT_CODE_HELP, UsageError, exitCodeFor, type ExitCode } from './exit-codes.js';
import { processIo, type Io } from './io.js';
import { errorJSON, errorLine } from './output/errors.js';

const require = createRequire(import.meta.url);

/** The CLI's version, from its package.json. */
export const VERSION: string = (require('../package.json') as { version: string }).version;

type Command = (argv: readonly string[], io: Io) => Promise<ExitCode>;

const COMMANDS: Record<string, { run: Command; summary: string; help: string }> = {
  sign: { run: signCommand, summary: 'sign a model (sigstore, key or certificate)', help: SIGN_HELP },
  verify: { run: verifyCommand, summary: 'verify a model against its signature', help: VERIFY_HELP },
  inspect: { run: inspectCommand, summary: 'show what a bundle claims, without verifying', help: INSPECT_HELP },
  diff: { run: diffCommand, summary: 'list files added, removed and changed between two versions', help: DIFF_HELP },
  digest: { run: digestCommand, summary: 'print a model\'s OMS root digest', help: DIGEST_HELP },
};

/** Registers a command (used as commands are added). */
export function registerCommand(name: string, run: Command, summary: string, help: string): void {
  COMMANDS[name] = { run, summary, help };
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return [
    'usage: modelseal COMMAND [options]',
    '',
    'Sign, verify, scan and digest machine-learning models (OpenSSF Model Signing v1.0).',
    '',
    'commands:',
    ...lines,
    '',
    'Run `modelseal COMMAND --help` for a command\'s options. Flag names accept _ or -.',
    '',
    EXIT_CODE_HELP,
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = topic === undefined ? undefined : COMMANDS[topic];
    io.out(command ? command.help : usage());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-V') {
    io.out(VERSION);
    return EXIT.OK;
  }
  const command = COMMANDS[name];
  const wantsJSON = rest.includes('--json');
  try {
    if (command === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    return await command.run(rest, io);
  } catch (error) {
    if (wantsJSON) io.out(JSON.stringify(errorJSON(error), null, 2));
    io.err(errorLine(error));
    return exitCodeFor(error);
  }
}
