// SPDX-License-Identifier: Apache-2.0
/**
 * V8 settings of the CLI's own, never the library's, for a run that hashes a
 * large model (issue 11 item 4), set once the model is listed and every
 * hash worker has loaded its module; `verify` sets some before it decodes a
 * large statement (setStatementFlags), and for a tree of many large files
 * the bin sets the young generation's before the command loads, when no
 * worker is starting (bin/modelseal.js).
 *
 * Why not at once: a flag set at run time changes the flag hash that V8
 * checks before it takes a code cache, so every script compiled after it is
 * compiled from source, and Node's compile cache of it is written again
 * under the new hash (which the next run without the flags rejects in
 * turn). Node's own modules in a worker still starting cost about 45 ms
 * more CPU that way (a hash worker's start: 84 -> 130 ms of CPU on the
 * 2-core machine). By the time the model is listed, everything before it
 * (the bundle's signature, the scan gate, their modules) is loaded; a 2 GiB
 * model's `digest` took 0.846 s instead of 0.906 (docs/performance.md).
 */
import { createRequire } from 'node:module';

/**
 * Sets `flags` once `when` resolves (`whenListingStarts()`, then
 * `whenHashWorkersLoaded()`, of `@modelseal/core/prestart`); nothing if it
 * never does (nothing was hashed).
 */
export function deferV8Flags(
  flags: readonly string[],
  when: Promise<unknown>,
): void {
  if (flags.length === 0) return;
  void when.then(() => setV8Flags(flags));
}

/** Flags set so far: set again, a flag would change the flag hash again. */
const done = new Set<string>();
/** node:v8, loaded on first use only (3-4 ms), and once. */
let v8: typeof import('node:v8') | undefined;

/** Sets `flags` now, those not set yet. */
export function setV8Flags(flags: readonly string[]): void {
  const fresh = flags.filter((flag) => !done.has(flag));
  if (fresh.length === 0) return;
  v8 ??= createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
  for (const flag of fresh) {
    v8.setFlagsFromString(flag);
    done.add(flag);
  }
}

/**
 * What `verify` sets before it decodes a large statement (64 KiB of bundle
 * or more: a few hundred files), once its modules are loaded: the young
 * generation kept at its first size and no TurboFan, and whatever the CLI's
 * start added for the model it looked at ({@link addStatementFlags}).
 */
const statementFlags = ['--semi-space-growth-factor=1', '--no-turbofan'];

/** Adds `flags` to those {@link setStatementFlags} sets. */
export function addStatementFlags(flags: readonly string[]): void {
  for (const flag of flags)
    if (!statementFlags.includes(flag)) statementFlags.push(flag);
}

/** Sets the flags for decoding a large statement (see {@link statementFlags}). */
export function setStatementFlags(): void {
  setV8Flags(statementFlags);
}
