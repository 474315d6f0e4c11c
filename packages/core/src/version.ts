// SPDX-License-Identifier: Apache-2.0
import { createRequire } from 'node:module';

/** The version of @modelseal/core (recorded in scan attestations and audit events). */
export const MODELSEAL_VERSION: string = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;
