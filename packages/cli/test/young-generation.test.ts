// SPDX-License-Identifier: Apache-2.0
// Issue 11 item 4: `verify` of a large bundle, and digest and sign of a large
// model, keep V8's young generation at its first size (a process setting of
// the CLI's own, set through process/v8-flags.ts). Run in a child
// process, since the setting is process-wide: a workload whose survivors
// make V8 grow the young generation must not grow it once the setting is on.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const MODULE = pathToFileURL(
  join(ROOT, 'packages/cli/dist/process/v8-flags.js'),
).href;

/** The young generation (MiB committed) after the workload, with or without the setting. */
function youngAfter(tuned: boolean): number {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    if (${tuned}) (await import(${JSON.stringify(MODULE)})).setV8Flags(['--semi-space-growth-factor=1']);
    // 20,000 objects alive at a time out of 3,000,000: each collection
    // finds some alive, which is what makes V8 grow the young generation.
    const ring = new Array(20000);
    for (let i = 0; i < 3000000; i++) ring[i % ring.length] = { i, s: 'x' + i };
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    console.log(young.physical_space_size / 1048576);
  `;
  return Number(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    }),
  );
}

describe('--semi-space-growth-factor=1 (setV8Flags)', () => {
  it('keeps the young generation from growing past its first size', () => {
    const plain = youngAfter(false);
    const tuned = youngAfter(true);
    // V8 grew it for this workload; with the setting it stayed at half or less.
    expect(plain).toBeGreaterThanOrEqual(6);
    expect(tuned).toBeLessThanOrEqual(plain / 2);
  });
});
