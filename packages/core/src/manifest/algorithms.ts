// SPDX-License-Identifier: Apache-2.0
import { HASH_ALGORITHMS } from '../constants.js';
import type { HashAlgorithm, Serialization } from './types.js';

/** True for a hash algorithm a manifest may use. */
export function isHashAlgorithm(name: string): name is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly string[]).includes(name);
}

/** Hex length of a digest: 64 for sha256 and blake3, 128 for blake2b (BLAKE2b-512). */
export function digestHexLength(algorithm: HashAlgorithm): number {
  return algorithm === 'blake2b' ? 128 : 64;
}

/** The `algorithm` of each resource: `sha256` for files, `sha256-sharded-N` for shards. */
export function algorithmName(
  serialization: Pick<Serialization, 'method' | 'hashType' | 'shardSize'>,
): string {
  return serialization.method === 'shards'
    ? `${serialization.hashType}-sharded-${serialization.shardSize}`
    : serialization.hashType;
}
