// SPDX-License-Identifier: Apache-2.0
/**
 * The modelseal command line: argument parsing and presentation only. Every
 * decision is made by @modelseal/core.
 */
import { constants } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { AuditInput } from '@modelseal/core/audit';
import { isModelSealError, ModelSealError } from '@modelseal/core/errors';
import { safeJSONStringify } from '@modelseal/core/output';
import {
  EXIT,
  EXIT_CODE_HELP,
  InterruptedError,
  UsageError,
  exitCodeFor,
  type ExitCode,
} from './exit-codes.js';
import { processIo, type Io } from './io.js';
import { cliWording, errorJSON, errorLine } from './output/errors.js';

const require = createRequire(import.meta.url);

/** The CLI's version, from its package.json. */
export const VERSION: string = (
  require('../package.json') as { version: string }
).version;

type Command = (argv: readonly string[], io: Io) => Promise<ExitCode>;

interface LoadedCommand {
  run: Command;
  help: string;
}

/**
 * The commands. Each loads its module (and, through it, only the library
 * subpaths it uses) when it runs: `--version` and `--help` load no command,
 * `digest` never loads the scanners or Sigstore (docs/performance.md, "Start-up").
 */
const COMMANDS: Record<
  string,
  { load: () => Promise<LoadedCommand>; summary: string }
> = {
  sign: {
    load: async () => {
      const m = await import('./commands/sign.js');
      return { run: m.signCommand, help: m.SIGN_HELP };
    },
    summary:
      'sign a model (sigstore, key or certificate); sign oci REF: an OCI image',
  },
  verify: {
    load: async () => {
      const m = await import('./commands/verify.js');
      return { run: m.verifyCommand, help: m.VERIFY_HELP };
    },
    summary:
      'verify a model against its signature; verify oci REF: an OCI image',
  },
  scan: {
    load: async () => {
      const m = await import('./commands/scan.js');
      return { run: m.scanCommand, help: m.SCAN_HELP };
    },
    summary: 'scan model files for embedded code and unsafe constructs',
  },
  inspect: {
    load: async () => {
      const m = await import('./commands/inspect.js');
      return { run: m.inspectCommand, help: m.INSPECT_HELP };
    },
    summary: 'show what a bundle claims, without verifying',
  },
  diff: {
    load: async () => {
      const m = await import('./commands/diff.js');
      return { run: m.diffCommand, help: m.DIFF_HELP };
    },
    summary: 'list files added, removed and changed between two versions',
  },
  digest: {
    load: async () => {
      const m = await import('./commands/digest.js');
      return { run: m.digestCommand, help: m.DIGEST_HELP };
    },
    summary: "print a model's OMS root digest",
  },
};

/** Registers a command (used as commands are added). */
export function registerCommand(
  name: string,
  run: Command,
  summary: string,
  help: string,
): void {
  COMMANDS[name] = { load: () => Promise.resolve({ run, help }), summary };
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
    io.out(command ? (await command.load()).help : usage());
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
  let auditWritable = true;
  try {
    if (command === undefined)
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    // An audit log that cannot be written fails before any work (and before a bundle is written).
    if (
      auditLog !== undefined &&
      auditLog !== '' &&
      auditLog !== '-' &&
      AUDITED.has(name)
    ) {
      auditWritable = false;
      await checkAuditTarget(auditLog);
      auditWritable = true;
    }
    // The audit module is loaded before the command, not after: V8 flags set
    // for a large model's hashing would cost its code cache
    // (process/v8-flags.ts).
    if (auditLog !== undefined && AUDITED.has(name))
      await import('@modelseal/core/audit');
    code = await (await command.load()).run(args, io);
  } catch (caught) {
    // Ctrl-C: whatever stopped (hashing, scanning, a service call) is one line, exit 130.
    // Library wording (option names) in the command line's words (flags).
    const error =
      caught instanceof InterruptedError || io.signal?.aborted === true
        ? new InterruptedError()
        : cliWording(caught);
    failure = error;
    if (wantsJSON) io.out(safeJSONStringify(errorJSON(error), 2));
    io.err(errorLine(error));
    code = exitCodeFor(error);
  }
  if (auditLog !== undefined && auditWritable && AUDITED.has(name)) {
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

/**
 * The audit log can be appended to: an existing file (or FIFO, or device)
 * that is writable, or a new file in a writable directory.
 *
 * @throws ModelSealError `IO_ERROR` naming the file and the flag
 */
async function checkAuditTarget(target: string): Promise<void> {
  const path = resolve(target);
  const fail = (why: string, cause?: unknown): never => {
    throw new ModelSealError({
      code: 'IO_ERROR',
      message: `cannot write the audit log ${target}: ${why} (--audit-log FILE or MODELSEAL_AUDIT_LOG)`,
      ...(cause === undefined ? {} : { cause }),
      details: { path },
    });
  };
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      fail((error as Error).message, error);
  }
  if (info?.isDirectory() === true) fail('it is a directory');
  const where = info === undefined ? dirname(path) : path;
  try {
    await access(where, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    fail(
      code === 'ENOENT'
        ? `directory ${where} does not exist`
        : info === undefined
          ? `directory ${where} is not writable`
          : 'the file is not writable',
      error,
    );
  }
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
    else if (failure instanceof InterruptedError)
      input.errorCode = 'INTERRUPTED';
  }
  // Loaded only when an audit log was asked for.
  const { appendAuditEvent, createAuditEvent } =
    await import('@modelseal/core/audit');
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
