// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { loadFixtureCases, scanBytes } from '../archive/format-harness.js';

const cases = await loadFixtureCases('tflite');

describe('tflite fixtures (test-vectors/formats/tflite)', () => {
  it.each(cases.map((c) => [c.path, c] as const))(
    '%s reports exactly its expected rules',
    async (_path, c) => {
      const result = await scanBytes(c.bytes);
      expect(result.formats).toEqual(['tflite']);
      expect(result.ruleIds).toEqual(c.rules);
    },
  );
});
