// SPDX-License-Identifier: Apache-2.0
// Typed re-export of scripts/fixtures/make-large-torch.mjs (shared with `pnpm bench`).
import * as impl from '../../../../../scripts/fixtures/make-large-torch.mjs';

/** `data.pkl` of `{'w': tensor}` whose float storage has `numel` elements, viewed as rows × cols. */
export const largeDataPkl: (
  numel: bigint,
  rows: number,
  cols: number,
) => Buffer = impl.largeDataPkl;

/** Writes a sparse torch zip whose storage record holds `storageBytes` (data.pkl claims `declaredBytes`). */
export const writeSparseTorchCheckpoint: (
  path: string,
  storageBytes: number,
  declaredBytes?: number,
) => Promise<void> = impl.writeSparseTorchCheckpoint;
