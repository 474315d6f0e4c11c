// SPDX-License-Identifier: Apache-2.0
import type { ScanContext } from '../types.js';
import {
  jsonBudget,
  parseBoundedJson,
  reportJsonLimit,
} from '../bounded-json.js';
import { walkKerasConfig } from './config-walk.js';

/**
 * Parses one Keras config JSON (Python's `json` dialect: bare `NaN` and
 * `Infinity` are accepted) within the JSON budget and reports what
 * {@link walkKerasConfig} finds in it, at `offset` when given. A config over
 * the budget is a high `SCAN_INCOMPLETE` (it was not parsed); one that does
 * not parse is a high `KERAS_MALFORMED` (Keras refuses it too).
 * @param where names the config in finding messages
 * @param what names it in the invalid-json message (default `where`)
 */
export function reportKerasConfig(
  ctx: ScanContext,
  text: Uint8Array | string,
  where: string,
  offset: number | undefined,
  what: string = where,
): void {
  const at = offset === undefined ? {} : { offset };
  const parsed = parseBoundedJson(text, jsonBudget(ctx.limits), {
    python: true,
  });
  if (!parsed.ok) {
    if (parsed.kind === 'limit') {
      reportJsonLimit(ctx, parsed, what, offset);
      return;
    }
    ctx.report({
      ruleId: 'KERAS_MALFORMED',
      severity: 'high',
      ...at,
      message: `${what} is not valid json`,
      evidence: { reason: parsed.reason },
    });
    return;
  }
  for (const finding of walkKerasConfig(parsed.value, where))
    ctx.report({ ...at, ...finding });
}
