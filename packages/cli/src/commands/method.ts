// SPDX-License-Identifier: Apache-2.0
import { UsageError } from '../exit-codes.js';

/** A signing method as the CLI names it. */
export type CliMethod = 'sigstore' | 'key' | 'certificate';

const METHODS: readonly string[] = ['sigstore', 'key', 'certificate'];

/** Splits `[METHOD] MODEL_PATH`: the method defaults to sigstore, as in model_signing. */
export function methodAndModel(
  positionals: readonly string[],
  what = 'MODEL_PATH',
): { method: CliMethod; path: string } {
  const [first, second, ...rest] = positionals;
  if (first !== undefined && METHODS.includes(first)) {
    if (second === undefined) throw new UsageError(`missing argument ${what}`);
    if (rest.length > 0)
      throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
    return { method: first as CliMethod, path: second };
  }
  if (first === undefined) throw new UsageError(`missing argument ${what}`);
  if (second !== undefined)
    throw new UsageError(`unexpected argument ${JSON.stringify(second)}`);
  return { method: 'sigstore', path: first };
}

/** Refuses flags that belong to another method. */
export function onlyFor(
  method: CliMethod,
  given: Record<string, unknown>,
  allowed: Record<CliMethod, readonly string[]>,
): void {
  for (const [name, value] of Object.entries(given)) {
    if (
      value === undefined ||
      value === false ||
      (Array.isArray(value) && value.length === 0)
    )
      continue;
    const owners = (Object.keys(allowed) as CliMethod[]).filter((m) =>
      allowed[m].includes(name),
    );
    if (owners.length > 0 && !owners.includes(method)) {
      throw new UsageError(
        `--${name} does not apply to the ${method} method (it is for ${owners.join(', ')})`,
      );
    }
  }
}
