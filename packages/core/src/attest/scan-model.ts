// SPDX-License-Identifier: Apache-2.0
/**
 * Scanning exactly the files a signature covers: the gate `sign` applies
 * before signing, and the input of a scan attestation.
 */
import { dirname, resolve } from 'node:path';
import { modelSealError } from '../errors.js';
import { listModelFiles } from '../manifest/hash-model.js';
import type { HashModelOptions } from '../manifest/types.js';
import {
  scanPaths,
  type ScanOptions,
  type ScanReport,
} from '../scan/engine.js';

/** Options of {@link scanModel}: which files (as for hashing) and how to scan them. */
export interface ScanModelOptions
  extends
    Pick<
      HashModelOptions,
      | 'ignorePaths'
      | 'ignoreGitPaths'
      | 'signaturePath'
      | 'allowSymlinks'
      | 'signal'
    >,
    Pick<ScanOptions, 'policy' | 'limits' | 'concurrency' | 'onProgress'> {}

/**
 * Scans the files of a model that `hashModel` would hash with the same
 * options; paths in the report are relative to the model directory.
 *
 * @throws the enumeration errors of `hashModel`; INVALID_OPTIONS for bad scan options
 */
export async function scanModel(
  modelPath: string,
  options: ScanModelOptions = {},
): Promise<ScanReport> {
  const listing: HashModelOptions = {};
  if (options.ignorePaths !== undefined)
    listing.ignorePaths = options.ignorePaths;
  if (options.ignoreGitPaths !== undefined)
    listing.ignoreGitPaths = options.ignoreGitPaths;
  if (options.signaturePath !== undefined)
    listing.signaturePath = options.signaturePath;
  if (options.allowSymlinks !== undefined)
    listing.allowSymlinks = options.allowSymlinks;
  if (options.signal !== undefined) listing.signal = options.signal;
  const { files, singleFile } = await listModelFiles(modelPath, listing);
  if (files.length === 0)
    throw modelSealError(
      'EMPTY_MODEL',
      `${modelPath}: no file to scan after ignores`,
    );
  const scanOptions: ScanOptions = {
    root: singleFile ? dirname(resolve(modelPath)) : resolve(modelPath),
  };
  if (options.policy !== undefined) scanOptions.policy = options.policy;
  if (options.limits !== undefined) scanOptions.limits = options.limits;
  if (options.concurrency !== undefined)
    scanOptions.concurrency = options.concurrency;
  if (options.onProgress !== undefined)
    scanOptions.onProgress = options.onProgress;
  if (options.signal !== undefined) scanOptions.signal = options.signal;
  return scanPaths(files, scanOptions);
}
