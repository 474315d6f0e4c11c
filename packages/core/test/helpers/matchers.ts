// SPDX-License-Identifier: Apache-2.0
// `expect(fn).toThrowWithCode('CODE')` and `await expect(promise).rejects.toHaveCode('CODE')`:
// tests assert on stable error codes, never on message text.
import { expect } from 'vitest';

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null
    ? (error as { code?: unknown }).code
    : undefined;
}

expect.extend({
  toThrowWithCode(received: unknown, code: string) {
    if (typeof received !== 'function') {
      return {
        pass: false,
        message: () => 'toThrowWithCode expects a function',
      };
    }
    try {
      (received as () => unknown)();
    } catch (error) {
      const actual = codeOf(error);
      return {
        pass: actual === code,
        message: () =>
          `expected code ${code}, got ${String(actual)}: ${String(error)}`,
      };
    }
    return {
      pass: false,
      message: () => `expected a throw with code ${code}, nothing was thrown`,
    };
  },
  toHaveCode(received: unknown, code: string) {
    const actual = codeOf(received);
    return {
      pass: actual === code,
      message: () =>
        `expected code ${code}, got ${String(actual)}: ${String(received)}`,
    };
  },
});

declare module 'vitest' {
  interface Matchers<
    R extends void | Promise<void> = void | Promise<void>,
    T = unknown,
  > {
    /** The function throws a ModelSealError (or any error) with this `code`. */
    toThrowWithCode(code: string): R;
    /** The value (an error, or a rejection with `.rejects`) has this `code`. */
    toHaveCode(code: string): R;
    /** @internal keeps T used */
    readonly __codeMatchersSubject?: T;
  }
}
