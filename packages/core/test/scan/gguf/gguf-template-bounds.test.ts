// SPDX-License-Identifier: Apache-2.0
// The chat-template analysis is bounded (stop 30): templates whose analysis
// grew with the square of their size are reported as too complex instead.
// Before, a 58 KB `{% set a0,…,a4999 = a0,…,a4999 %}` took 19 s and 2.4 GiB
// (20,000 names ran out of memory and killed the process), and 5,000 macros
// handed on as values with 50,000 other calls took 65 s; both reported
// nothing. Then: 80,000 `{% raw %}` without an endraw took 27 s,
// 400,000 underscore strings 15 s, 20,000 definitions of one macro with
// 20,000 calls 35 s, a macro call with `*args` and 5,000 arguments 20 s and
// 2.6 GiB, 600 names each holding all 600 5.5 s, and one block of 2,000,000
// tokens took 1.2 GiB (one with a 200,000-item list threw RangeError).
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

  it('looks for endraw once, not once per raw block', () => {
    const started = performance.now();
    // No endraw: the rest is analysed as code, and has none.
    expect(analyzeChatTemplate('{% raw %}'.repeat(40_000))).toEqual([]);
    expect(performance.now() - started).toBeLessThan(2_000);
    // A raw block still hides its text from the analysis.
    expect(
      analyzeChatTemplate('{% raw %}{{ x.__class__ }}{% endraw %}{{ y }}'),
    ).toEqual([]);
  });

  it('finds the call around an underscore string in one pass', () => {
    const t = `{{ ${Array.from({ length: 100_000 }, () => "'_'").join(' ~ ')} }}`;
    const started = performance.now();
    // Each is an underscore built by concatenation.
    expect(analyzeChatTemplate(t).length).toBeGreaterThanOrEqual(100_000);
    expect(performance.now() - started).toBeLessThan(1_500);
    // The enclosing call is still found across nested brackets.
    expect(
      analyzeChatTemplate("{{ '{}{}'.format(x[0], ('_')) }}").map(
        (i) => i.detail,
      ),
    ).toEqual([]);
    expect(
      analyzeChatTemplate("{{ '{}{}'.format(x[0], (y), '_') }}").map(
        (i) => i.detail,
      ),
    ).toEqual(['underscores assembled with format']);
  });

  it('charges definitions times calls of a macro name to the work budget', () => {
    const t =
      '{% macro m(x) %}{% endmacro %}'.repeat(15_000) +
      '{{ m(1) }}'.repeat(15_000);
    const started = performance.now();
    analyzeChatTemplate(t);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('charges *args given to every parameter to the work budget', () => {
    const ps = Array.from({ length: 3000 }, (_, i) => `p${i}`).join(',');
    const as = Array.from({ length: 3000 }, (_, i) => `a${i}`).join(',');
    const started = performance.now();
    const issues = analyzeChatTemplate(
      `{% macro m(${ps}) %}{% endmacro %}{{ m(*q, ${as}) }}`,
    );
    expect(issues.map((i) => i.detail)).toContain(
      'template too complex to analyse within the work budget',
    );
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('charges keyword arguments times parameters to the work budget', () => {
    const ps = Array.from({ length: 20_000 }, (_, i) => `p${i}`).join(',');
    const ks = Array.from({ length: 20_000 }, (_, i) => `k${i}=1`).join(',');
    const issues = analyzeChatTemplate(
      `{% macro m(${ps}) %}{% endmacro %}{{ m(${ks}) }}`,
    );
    expect(issues.map((i) => i.detail)).toContain(
      'template too complex to analyse within the work budget',
    );
  });

  it('charges the edges of the containment graph to the work budget', () => {
    // 300 names in 180,000 tokens: 90,000 edges walked for each name.
    const names = Array.from({ length: 300 }, (_, i) => `a${i}`);
    const t =
      names.map((a) => `{% set ${a} = [${names.join(',')}] %}`).join('') +
      names.map((a) => `{% set ${a}.x = 1 %}`).join('');
    const started = performance.now();
    expect(analyzeChatTemplate(t).map((i) => i.detail)).toContain(
      'template too complex to analyse within the work budget',
    );
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('caps the tokens of a single block', () => {
    const started = performance.now();
    const issues = analyzeChatTemplate(`{{ ${'a,'.repeat(1_000_000)} }}`);
    expect(issues.map((i) => i.detail)).toEqual([
      'more than 250000 tokens; the rest was not analysed',
    ]);
    expect(performance.now() - started).toBeLessThan(1_500);
  });
});
