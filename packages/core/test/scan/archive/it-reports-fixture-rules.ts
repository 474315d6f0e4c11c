// SPDX-License-Identifier: Apache-2.0
// The manifest check every format's fixture suite starts with.
import { expect, it } from 'vitest';
import { scanBytes, type FixtureCase } from './format-harness.js';

/**
 * Registers one test per fixture: it reports exactly the rules the manifest
 * lists. With a string `format`, the formats recognised must be exactly
 * `[format]`; with a function, the first format recognised must be the one
 * it returns for the fixture's path.
 */
export function itReportsFixtureRules(
  cases: readonly FixtureCase[],
  format: string | ((path: string) => string),
): void {
  it.each(cases.map((c) => [c.path, c] as const))(
    '%s reports exactly its expected rules',
    async (_path, c) => {
      const result = await scanBytes(c.bytes);
      if (typeof format === 'string') expect(result.formats).toEqual([format]);
      else expect(result.formats[0]).toBe(format(c.path));
      expect(result.ruleIds).toEqual(c.rules);
    },
  );
}
