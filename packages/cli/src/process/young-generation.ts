// SPDX-License-Identifier: Apache-2.0
/**
 * A process setting of the CLI's own, never the library's: keeps V8's young
 * generation at its first size for a run that builds large tables (issue 11
 * item 4).
 */
import { setV8Flags } from './v8-flags.js';

/**
 * V8 starts the young generation at 4 MiB and doubles it as objects
 * survive: a verify of 200,000 files grew it to 8 MiB, all of it in the
 * peak. Turning growth off keeps it at 4 (measured: 4-5 MiB less at the
 * peak, the same time). Only for the rest of this process.
 */
export function keepYoungGenerationSmall(): void {
  setV8Flags(['--semi-space-growth-factor=1']);
}
