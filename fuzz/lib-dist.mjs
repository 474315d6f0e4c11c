// SPDX-License-Identifier: Apache-2.0
// The library as the fuzzer sees it: the compiled JavaScript in packages/core/dist
// (run `pnpm build` first), which jazzer.js instruments for coverage.
import { scanSource } from '../packages/core/dist/scan/engine.js';
import { bufferSource } from '../packages/core/dist/scan/source.js';
import {
  FALLBACK_SCANNERS,
  SCANNERS,
} from '../packages/core/dist/scan/registry.js';
import { ruleInfo } from '../packages/core/dist/scan/rules.js';
import { analysePickleSource } from '../packages/core/dist/scan/pickle/vm.js';
import {
  readZipDirectory,
  readZipEntry,
} from '../packages/core/dist/scan/zip/reader.js';

import {
  decodeOwnedStatement,
  decodeStatement,
  decodeStatementWindows,
} from '../packages/core/dist/manifest/statement.js';
import { parseBundle } from '../packages/core/dist/bundle/read.js';

export const lib = {
  decodeStatement,
  decodeOwnedStatement,
  decodeStatementWindows,
  parseBundle,
  scanSource,
  bufferSource,
  SCANNERS,
  FALLBACK_SCANNERS,
  ruleInfo,
  analysePickleSource,
  readZipDirectory,
  readZipEntry,
};
