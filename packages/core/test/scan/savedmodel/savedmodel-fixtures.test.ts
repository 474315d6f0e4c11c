// SPDX-License-Identifier: Apache-2.0
import { describe } from 'vitest';
import { loadFixtureCases } from '../archive/format-harness.js';
import { itReportsFixtureRules } from '../archive/it-reports-fixture-rules.js';

const cases = await loadFixtureCases('savedmodel');

describe('savedmodel fixtures (test-vectors/formats/savedmodel)', () => {
  itReportsFixtureRules(cases, 'tf-savedmodel');
});
