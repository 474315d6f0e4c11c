// SPDX-License-Identifier: Apache-2.0
// Issue 11 item 4: the look at a model before the command loads (bin's
// hash-worker prestart, @modelseal/core/prestart) must not make anything hot
// enough for TurboFan before the CLI turns it off. With path.join per entry,
// a model under a long path (the bench's work folders: about 50 characters)
// had Node's normalizeString compiled by TurboFan: 5 MiB of the `node`
// binary paged in, the 200,000-file verify at 98 MiB instead of 92.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from './helpers/run-cli.js';

describe('the look before the command loads', () => {
  it('makes no path function hot enough for TurboFan, for a wide tree under a long path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ms-look-'));
    // 200 folders of one file, and one of 60: the look reads its 256
    // entries (the root's 200, then the last folder's), then stops.
    const model = join(dir, 'l'.repeat(60), 'model');
    for (let d = 0; d < 200; d++) {
      const folder = join(model, `d${String(d).padStart(3, '0')}`);
      mkdirSync(folder, { recursive: true });
      for (let f = 0; f < (d === 199 ? 60 : 1); f++)
        writeFileSync(join(folder, `f${f}.bin`), '');
    }
    const run = spawnSync(
      process.execPath,
      ['--trace-opt', CLI, 'digest', model, '-q'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(run.status, run.stderr).toBe(0);
    // Path normalisation and the look itself (other code may legitimately
    // get hot on another machine; these must not, the look being bounded).
    const turbofan = `${run.stdout}\n${run.stderr}`
      .split('\n')
      .filter(
        (line) =>
          /completed compiling .*TURBOFAN/.test(line) &&
          /normalize|resolve|join|lookAt|prestart/i.test(line),
      );
    expect(turbofan).toEqual([]);
    // The trace was on: Maglev compiled something.
    expect(run.stdout).toMatch(/target MAGLEV/);
  });
});
