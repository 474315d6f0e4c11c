// SPDX-License-Identifier: Apache-2.0
import { errorKind, isModelSealError } from '@modelseal/core/errors';

/** Exit codes of every modelseal command (docs/cli.md). */
export const EXIT: {
  readonly OK: 0;
  readonly FAILED: 1;
  readonly USAGE: 2;
  readonly OPERATIONAL: 3;
  readonly INTERRUPTED: 130;
} = Object.freeze({
  /** Verified, signed, digested, or scan clean. */
  OK: 0,
  /** Verification failed, or findings at or above --fail-on; includes malformed bundles (fail closed). */
  FAILED: 1,
  /** Usage error: unknown flag, missing argument, conflicting flags. */
  USAGE: 2,
  /** Operational error that prevented a verdict: I/O, trust root, OIDC token, network. */
  OPERATIONAL: 3,
  /** Interrupted by SIGINT (Ctrl-C), as a shell reports 128 + 2. */
  INTERRUPTED: 130,
} as const);

/** One of the {@link EXIT} values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table printed by `--help`. */
export const EXIT_CODE_HELP: string = [
  'exit codes:',
  '  0  verified, signed, digested, or scan clean',
  '  1  verification failed, or findings at or above --fail-on (malformed bundles included)',
  '  2  usage error',
  '  3  operational error that prevented a verdict (I/O, trust root, OIDC token, network)',
  '  130  interrupted (Ctrl-C / SIGINT)',
].join('\n');

/** A mistake in the command line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Maps any error to an exit code. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof UsageError) return EXIT.USAGE;
  if (error instanceof InterruptedError) return EXIT.INTERRUPTED;
  if (isModelSealError(error)) {
    switch (errorKind(error.code)) {
      case 'verification':
        return EXIT.FAILED;
      case 'usage':
        return EXIT.USAGE;
      case 'operational':
        return EXIT.OPERATIONAL;
    }
  }
  return EXIT.OPERATIONAL;
}

/** The user interrupted the command (Ctrl-C, SIGINT): exit 130 with one line. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
  constructor() {
    super('interrupted');
  }
}
