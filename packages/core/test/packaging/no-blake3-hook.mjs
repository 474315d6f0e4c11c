// SPDX-License-Identifier: Apache-2.0
// Preloaded with --import: makes the optional BLAKE3 binding unresolvable, as
// after `npm install --omit=optional` on a platform without a prebuilt binary.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    if (
      specifier === '@napi-rs/blake-hash' ||
      specifier.startsWith('@napi-rs/blake-hash-')
    ) {
      const e = new Error(`Cannot find module '${specifier}'`);
      e.code = 'ERR_MODULE_NOT_FOUND';
      throw e;
    }
    return next(specifier, context);
  },
});
