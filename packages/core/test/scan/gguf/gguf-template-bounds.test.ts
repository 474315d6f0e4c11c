// SPDX-License-Identifier: Apache-2.0
// The chat-template analysis is bounded (stop 30): templates whose analysis
// grew with the square of their size are reported as too complex instead.
// Before, a 58 KB `{% set a0,…,a4999 = a0,…,a4999 %}` took 19 s and 2.4 GiB
// (20,000 names ran out of memory and killed the process), and 5,000 macros
// handed on as values with 50,000 other calls took 65 s; both reported
// nothing.
import { describe, expect, it } from 'vitest';
import { analyzeChatTemplate } from '../../../src/scan/gguf/chat-template.js';

describe('chat-template analysis bounds', () => {
  it('refuses an assignment with more names than a template binds', () => {
    const names = Array.from({ length: 1000 }, (_, i) => `a${i}`).join(',');
    const issues = analyzeChatTemplate(`{% set ${names} = ${names} %}`);
    expect(issues.map((i) => i.kind)).toContain('obfuscation');
    // A few names, as templates write them, are analysed as before.
    expect(analyzeChatTemplate('{% set a, b = 1, 2 %}{{ a }}{{ b }}')).toEqual(
      [],
    );
  });

  it('charges unresolved calls times macros handed on to the work budget', () => {
    let t = '';
    for (let i = 0; i < 2000; i++)
      t += `{% macro m${i}(x) %}{{ x }}{% endmacro %}`;
    t += `{% set l = [${Array.from({ length: 2000 }, (_, i) => `m${i}`).join(',')}] %}`;
    for (let i = 0; i < 20000; i++) t += `{{ f(${i}) }}`;
    const started = performance.now();
    const issues = analyzeChatTemplate(t);
    expect(issues.map((i) => i.detail)).toContain(
      'template too complex to analyse within the work budget',
    );
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
