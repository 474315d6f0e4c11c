// SPDX-License-Identifier: Apache-2.0
import type { ScanContext } from '../types.js';
import { parsePythonJson, walkKerasConfig } from './config-walk.js';

/**
 * Parses one Keras config JSON text (Python's `json` dialect) and reports what
 * {@link walkKerasConfig} finds in it, at `offset` when given; text that does
 * not parse is a medium `KERAS_MALFORMED` finding.
 * @param where names the config in finding messages
 * @param what names it in the invalid-json message (default `where`)
 */
export function reportKerasConfig(
  ctx: ScanContext,
  text: string,
  where: string,
  offset: number | undefined,
  what: string = where,
): void {
  const at = offset === undefined ? {} : { offset };
  const parsed = parsePythonJson(text);
  if (!parsed.ok) {
    ctx.report({
      ruleId: 'KERAS_MALFORMED',
      severity: 'medium',
      ...at,
      message: `${what} is not valid json`,
      evidence: { reason: parsed.reason },
    });
    return;
  }
  for (const finding of walkKerasConfig(parsed.value, where))
    ctx.report({ ...at, ...finding });
}
