// SPDX-License-Identifier: Apache-2.0
export {
  createPkcs11Signer,
  exportPkcs11PublicKey,
  type Pkcs11Signer,
  type Pkcs11SignerOptions,
} from './signer.js';
export { describePkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from './uri.js';
