// SPDX-License-Identifier: Apache-2.0
import { createHash } from 'node:crypto';
import type { Resource } from './types.js';

/**
 * The OMS root digest (oms-format.md §5): SHA-256 over the raw bytes of every
 * resource digest, in the given order. Never over the hex text.
 *
 * @returns lowercase hex
 */
export function computeRootDigest(resources: readonly Resource[]): string {
  const hash = createHash('sha256');
  for (const resource of resources)
    hash.update(Buffer.from(resource.digest, 'hex'));
  return hash.digest('hex');
}
