// SPDX-License-Identifier: Apache-2.0
import { describe } from 'vitest';
import { loadFixtureCases } from '../archive/format-harness.js';
import { itReportsFixtureRules } from '../archive/it-reports-fixture-rules.js';

const cases = await loadFixtureCases('tflite');

describe('tflite fixtures (test-vectors/formats/tflite)', () => {
  itReportsFixtureRules(cases, 'tflite');
});
