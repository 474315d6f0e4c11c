// SPDX-License-Identifier: Apache-2.0
import { isModelSealError } from '@modelseal/core/errors';
import { safeText } from '@modelseal/core/output';
import { UsageError } from '../exit-codes.js';

/** The JSON object printed on stdout for a failure with `--json`. */
export function errorJSON(error: unknown): Record<string, unknown> {
  const body: Record<string, unknown> = {
    code: isModelSealError(error)
      ? error.code
      : error instanceof UsageError
        ? 'USAGE'
        : 'INTERNAL_ERROR',
    message: error instanceof Error ? error.message : String(error),
  };
  if (isModelSealError(error) && error.details !== undefined)
    body.details = error.details;
  return { schemaVersion: 1, ok: false, error: body };
}

/**
 * One line for stderr: no stack trace, the code in brackets. Messages name
 * files, members, key hints and identities from artifacts and bundles, so
 * they go through safeText: always one line, no control sequence.
 */
export function errorLine(error: unknown): string {
  if (error instanceof UsageError)
    return `modelseal: usage error: ${safeText(error.message)} (see --help)`;
  if (isModelSealError(error))
    return `modelseal: error [${error.code}]: ${safeText(error.message)}`;
  const message = error instanceof Error ? error.message : String(error);
  return `modelseal: internal error: ${safeText(message.split('\n')[0] ?? '')}`;
}
