// SPDX-License-Identifier: Apache-2.0
/**
 * V8 settings of the CLI's own, never the library's, for a run that hashes a
 * large model (issue 11 item 4): set once the command's modules are loaded
 * and the hash workers started ahead have loaded theirs.
 *
 * Why not at once: a flag set at run time changes the flag hash that V8
 * checks before it takes a code cache, so every script compiled after it
 * is compiled from source. Node's own modules in a worker still starting
 * then cost about 45 ms more CPU (a hash worker's start: 84 -> 130 ms of
 * CPU on the 2-core machine), and the command's modules lose the compile
 * cache. Set after both, the flags cost nothing: a 2 GiB model's `digest`
 * took 0.838 s instead of 0.877 (docs/performance.md).
 */
import { createRequire } from 'node:module';

let pending: readonly string[] = [];
let loaded: Promise<void> | undefined;

/**
 * Holds `flags` until {@link commandModulesLoaded} is called and `workersLoaded`
 * has resolved (`whenHashWorkersLoaded` of `@modelseal/core/prestart`).
 */
export function deferV8Flags(
  flags: readonly string[],
  workersLoaded: Promise<void>,
): void {
  pending = flags;
  loaded = workersLoaded;
}

/**
 * Called by a command right before it calls the library to hash: its
 * modules are loaded. Sets the flags held, if any, once the workers are
 * loaded too (at once when none is loading).
 */
export function commandModulesLoaded(): void {
  const flags = pending;
  const workers = loaded;
  pending = [];
  loaded = undefined;
  if (flags.length === 0 || workers === undefined) return;
  void workers.then(() => {
    // Loaded only now (3-4 ms), and at once: no further wait.
    const { setFlagsFromString } = createRequire(import.meta.url)(
      'node:v8',
    ) as typeof import('node:v8');
    for (const flag of flags) setFlagsFromString(flag);
  });
}
