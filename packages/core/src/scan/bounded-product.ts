// SPDX-License-Identifier: Apache-2.0

/**
 * The product of non-negative integers (a tensor's element size and its
 * dimensions), or undefined once it passes `max`. BigInt because a hostile
 * shape overflows doubles long before it overflows memory; bounded because a
 * header can list tens of thousands of huge dimensions, and an unbounded
 * BigInt product of them takes quadratic time.
 * @param factors non-negative integers
 * @param max the largest product computed
 */
export function boundedProduct(
  factors: readonly (bigint | number)[],
  max: bigint,
): bigint | undefined {
  // A zero anywhere makes the product zero, however large the rest.
  if (factors.some((f) => BigInt(f) === 0n)) return 0n;
  let product = 1n;
  for (const f of factors) {
    product *= BigInt(f);
    if (product > max) return undefined;
  }
  return product;
}
