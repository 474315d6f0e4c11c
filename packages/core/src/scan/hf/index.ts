// SPDX-License-Identifier: Apache-2.0
export { HfRemoteCodeScanner } from './remote-code.js';
export { HF_RULES } from './rules.js';
