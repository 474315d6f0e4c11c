// SPDX-License-Identifier: Apache-2.0
/**
 * One way to turn a caller's identity constraint (an exact value or a
 * regular expression) into a test, shared by every verification method
 * (Sigstore identity/issuer, certificate SAN/subject/OIDC issuer).
 *
 * A regular expression must compile on its own before it is wrapped as
 * `^(?:P)$`: `x)|(.*` does not compile alone, but `^(?:x)|(.*)$` would, and
 * then matches every value (the anchors are escaped). Exact values are never
 * patterns: they are compared with `===`.
 */
import { ModelSealError } from '../errors.js';

/** A compiled constraint: `test` is the only way to use it. */
export interface IdentityMatcher {
  /** True when the whole value matches (exact equality, or the anchored pattern). */
  test(value: string): boolean;
  /** `"value"` for exact, `/P/` for a pattern: for messages. */
  readonly text: string;
  /** The anchored pattern (a literal-escaped one for exact values). */
  readonly pattern: RegExp;
  /** The exact value, when the constraint is exact. */
  readonly exact: string | undefined;
}

function invalidOptions(message: string, cause?: unknown): ModelSealError {
  return new ModelSealError({
    code: 'INVALID_OPTIONS',
    message,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Every character other than `[A-Za-z0-9_]` becomes a `\u{…}` escape; with
 * the `u` flag nothing stays special. (`RegExp.escape` is missing on Node 22.)
 */
export function literalPattern(value: string): string {
  return Array.from(value, (c) =>
    /\w/.test(c) ? c : `\\u{${(c.codePointAt(0) as number).toString(16)}}`,
  ).join('');
}

/**
 * Compiles a caller's regular expression anchored as `^(?:P)$` with the `u`
 * flag, after checking that `P` compiles alone (so it cannot close the group
 * and escape the anchors).
 *
 * @param what - names the option in messages, e.g. `identity regular expression`
 * @throws ModelSealError `INVALID_OPTIONS` when `P` is not a string, is empty,
 *   or does not compile by itself
 */
export function anchoredRegExp(source: unknown, what: string): RegExp {
  if (typeof source !== 'string')
    throw invalidOptions(`${what} must be a single string`);
  if (source === '') throw invalidOptions(`${what} is empty`);
  try {
    // Alone first: a pattern that only compiles once wrapped is a breakout attempt.
    new RegExp(source, 'u');
  } catch (cause) {
    throw invalidOptions(
      `${what} is not a valid javascript regular expression on its own: ${JSON.stringify(source)}`,
      cause,
    );
  }
  try {
    return new RegExp(`^(?:${source})$`, 'u');
  } catch (cause) {
    throw invalidOptions(
      `${what} cannot be anchored: ${JSON.stringify(source)}`,
      cause,
    );
  }
}

/**
 * Compiles exactly one of `exact` and `regexp` into a matcher.
 *
 * @param what - the constraint's name in messages, e.g. `identity`
 * @param required - when true, giving neither is an error
 * @returns `undefined` when neither is given and the constraint is optional
 * @throws ModelSealError `INVALID_OPTIONS` when both are given, a value is not
 *   a single string (an array from a repeated flag, say), is empty, or the
 *   pattern does not compile alone
 */
export function identityMatcher(
  exact: unknown,
  regexp: unknown,
  what: string,
  required: true,
): IdentityMatcher;
export function identityMatcher(
  exact: unknown,
  regexp: unknown,
  what: string,
  required?: boolean,
): IdentityMatcher | undefined;
export function identityMatcher(
  exact: unknown,
  regexp: unknown,
  what: string,
  required = false,
): IdentityMatcher | undefined {
  if (exact !== undefined && regexp !== undefined)
    throw invalidOptions(
      `give exactly one of ${what} and ${what} regular expression`,
    );
  if (exact === undefined && regexp === undefined) {
    if (required)
      throw invalidOptions(
        `give exactly one of ${what} and ${what} regular expression`,
      );
    return undefined;
  }
  if (exact !== undefined) {
    if (typeof exact !== 'string')
      throw invalidOptions(`${what} must be a single string`);
    if (exact === '') throw invalidOptions(`${what} is empty`);
    const value = exact;
    return {
      test: (v) => v === value,
      text: value,
      pattern: new RegExp(`^${literalPattern(value)}$`, 'u'),
      exact: value,
    };
  }
  const pattern = anchoredRegExp(regexp, `${what} regular expression`);
  return {
    test: (v) => pattern.test(v),
    text: `/${regexp as string}/`,
    pattern,
    exact: undefined,
  };
}
