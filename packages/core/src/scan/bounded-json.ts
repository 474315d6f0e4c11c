// SPDX-License-Identifier: Apache-2.0
/**
 * The bounded JSON parser (internal/bounded-json.ts, which the bundle reader
 * uses without loading the scanners) and how a scanner reports a document
 * it refused.
 */
import type { BoundedJsonResult } from '../internal/bounded-json.js';
import { reportIncomplete } from './incomplete.js';
import type { ScanContext } from './types.js';

export * from '../internal/bounded-json.js';

/**
 * Reports a document refused for its budget as a high `SCAN_INCOMPLETE`
 * naming the limit (the document was not parsed, so nothing in it was
 * checked).
 * @param what names the document, e.g. `config.json`
 */
export function reportJsonLimit(
  ctx: Pick<ScanContext, 'report'>,
  result: Extract<BoundedJsonResult, { kind: 'limit' }>,
  what: string,
  offset?: number,
): void {
  const over =
    result.limit === 'maxJsonTokens'
      ? `more than ${result.value} tokens`
      : `nesting deeper than ${result.value} levels`;
  reportIncomplete(ctx, {
    limit: result.limit,
    value: result.value,
    message: `${what} has ${over}; it was not parsed`,
    ...(offset === undefined ? {} : { offset }),
    evidence: { at: result.offset },
  });
}
