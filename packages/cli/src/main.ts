// SPDX-License-Identifier: Apache-2.0
/**
 * The modelseal command line: argument parsing and presentation only. Every
 * decision is made by @modelseal/core.
 */
import { createRequire } from 'node:module';
import {
  appendAuditEvent,
  createAuditEvent,
  isModelSealError,
  safeJSONStringify,
  type AuditInput,
} from '@modelseal/core';
import { diffCommand, DIFF_HELP } from './commands/diff.js';
import { digestCommand, DIGEST_HELP } from './commands/digest.js';
import { inspectCommand, INSPECT_HELP } from './commands/inspect.js';
import { scanCommand, SCAN_HELP } from './commands/scan.js';
import { signCommand, SIGN_HELP } from './commands/sign.js';
import { verifyCommand, VERIFY_HELP } from './commands/verify.js';
import {
  EXIT,
  EXIT_CODE_HELP,
  UsageError,
  exitCodeFor,
  type ExitCode,
} from './exit-codes.js';
import { processIo, type Io } from './io.js';
import { errorJSON, errorLine } from './output/errors.js';

const require = createRequire(import.meta.url);

/** The CLI's version, from its package.json. */
export const VERSION: string = (
  require('../package.json') as { version: string }
).version;

type Command = (argv: readonly string[], io: Io) => Promise<ExitCode>;

const COMMANDS: Record<
  string,
  { run: Command; summary: string; help: string }
> = {
  sign: {
    run: signCommand,
    summary: 'sign a model (sigstore, key or certificate)',
    help: SIGN_HELP,
  },
  verify: {
    run: verifyCommand,
    summary: 'verify a model against its signature',
    help: VERIFY_HELP,
  },
  scan: {
    run: scanCommand,
    summary: 'scan model files for embedded code and unsafe constructs',
    help: SCAN_HELP,
  },
  inspect: {
    run: inspectCommand,
    summary: 'show what a bundle claims, without verifying',
    help: INSPECT_HELP,
  },
  diff: {
    run: diffCommand,
    summary: 'list files added, removed and changed between two versions',
    help: DIFF_HELP,
  },
  digest: {
    run: digestCommand,
    summary: "print a model's OMS root digest",
    help: DIGEST_HELP,
  },
};

/** Registers a command (used as commands are added). */
export function registerCommand(
  name: string,
  run: Command,
  summary: string,
  help: string,
): void {
  COMMANDS[name] = { run, summary, help };
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(
    ([name, c]) => `  ${name.padEnd(8)} ${c.summary}`,
  );
  return [
    'usage: modelseal COMMAND [options]',
    '',
    'Sign, verify, scan and digest machine-learning models (OpenSSF Model Signing v1.0).',
    '',
    'commands:',
    ...lines,
    '',
    "Run `modelseal COMMAND --help` for a command's options. Flag names accept _ or -.",
    '',
    'global options:',
    '  --audit-log FILE   append one audit event (ECS JSON line) per operation; - for stdout',
    '                     (or set MODELSEAL_AUDIT_LOG)',
    '',
    EXIT_CODE_HELP,
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(
  argv: readonly string[],
  io: Io = processIo(),
  env: NodeJS.ProcessEnv = process.env,
): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (
    name === undefined ||
    name === '--help' ||
    name === '-h' ||
    name === 'help'
  ) {
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
  let taken: { args: string[]; auditLog: string | undefined };
  try {
    taken = takeAuditLog(rest, env);
  } catch (error) {
    io.err(errorLine(error));
    return exitCodeFor(error);
  }
  const { args, auditLog } = taken;
  const wantsJSON = args.includes('--json');
  const start = new Date();
  if (auditLog !== undefined) io.audit = {};
  let code: ExitCode;
  let failure: unknown;
  try {
    if (command === undefined)
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    code = await command.run(args, io);
  } catch (error) {
    failure = error;
    if (wantsJSON) io.out(safeJSONStringify(errorJSON(error), 2));
    io.err(errorLine(error));
    code = exitCodeFor(error);
  }
  if (auditLog !== undefined && AUDITED.has(name)) {
    const code2 = await writeAudit(
      auditLog,
      name as AuditInput['action'],
      start,
      io,
      code,
      failure,
    );
    if (code2 !== undefined) code = code2;
  }
  return code;
}

const AUDITED = new Set(['sign', 'verify', 'scan', 'digest', 'diff']);

/** `--audit-log FILE` (or `-` for stdout) anywhere in the arguments, else MODELSEAL_AUDIT_LOG. */
function takeAuditLog(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { args: string[]; auditLog: string | undefined } {
  const args: string[] = [];
  let auditLog =
    env.MODELSEAL_AUDIT_LOG === '' ? undefined : env.MODELSEAL_AUDIT_LOG;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--audit-log' || arg === '--audit_log') {
      auditLog = argv[i + 1];
      if (auditLog === undefined)
        throw new UsageError('--audit-log needs a file (or - for stdout)');
      i += 1;
    } else if (
      arg.startsWith('--audit-log=') ||
      arg.startsWith('--audit_log=')
    ) {
      auditLog = arg.slice(arg.indexOf('=') + 1);
    } else {
      args.push(arg);
    }
  }
  return { args, auditLog };
}

async function writeAudit(
  target: string,
  action: AuditInput['action'],
  start: Date,
  io: Io,
  code: ExitCode,
  failure: unknown,
): Promise<ExitCode | undefined> {
  const facts = io.audit ?? {};
  const input: AuditInput = {
    ...facts,
    action,
    start,
    end: new Date(),
    toolVersion: VERSION,
    outcome: code === EXIT.OK ? 'success' : 'failure',
  };
  if (failure !== undefined) {
    input.reason =
      failure instanceof Error ? failure.message : JSON.stringify(failure);
    if (isModelSealError(failure)) input.errorCode = failure.code;
    else if (failure instanceof UsageError) input.errorCode = 'USAGE';
  }
  const event = createAuditEvent(input);
  if (target === '-') {
    io.out(safeJSONStringify(event));
    return undefined;
  }
  try {
    await appendAuditEvent(target, event);
    return undefined;
  } catch (error) {
    // An audit trail that cannot be written is an operational failure: never silent.
    io.err(errorLine(error));
    return EXIT.OPERATIONAL;
  }
}
