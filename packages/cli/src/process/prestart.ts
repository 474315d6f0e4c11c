// SPDX-License-Identifier: Apache-2.0
/**
 * The library's look at a model and its hash workers started ahead, for the
 * bin: imported from here, not by the bin itself, so that Node resolves
 * `@modelseal/core` from this module's real path, even when the bin runs
 * under a link's path (`--preserve-symlinks-main` with pnpm's layout, where
 * the library is not reachable from the link).
 */
export {
  prestartHashWorkers,
  whenHashWorkersLoaded,
  whenListingStarts,
} from '@modelseal/core/prestart';
