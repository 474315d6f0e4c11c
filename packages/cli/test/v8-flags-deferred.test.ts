// SPDX-License-Identifier: Apache-2.0
// Issue 11: the CLI's V8 settings for a large model are held until the
// command's modules are loaded and the hash workers started ahead have
// loaded theirs (a flag set at run time costs every later compile its code
// cache). Run in a child process, since a flag is process-wide; the flag
// here, --allow-natives-syntax, shows at once whether it is in force: only
// then does `%IsSmi(1)` compile.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const MODULE = pathToFileURL(
  join(ROOT, 'packages/cli/dist/process/v8-flags.js'),
).href;

/** What the script prints: one word per check, `on` when the flag was in force. */
function run(body: string): string[] {
  const script = `
    const { deferV8Flags, commandModulesLoaded } = await import(${JSON.stringify(MODULE)});
    const seen = [];
    const check = () => {
      try { new Function('return %IsSmi(1)'); seen.push('on'); }
      catch { seen.push('off'); }
    };
    const tick = () => new Promise((r) => setTimeout(r, 20));
    ${body}
    console.log(seen.join(' '));
  `;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
  })
    .trim()
    .split(' ');
}

describe('deferred V8 flags (bin/modelseal.js, process/v8-flags.ts)', () => {
  it('waits for the command and for the workers, in either order', () => {
    expect(
      run(`
        let loaded;
        deferV8Flags(['--allow-natives-syntax'], new Promise((r) => (loaded = r)));
        await tick(); check();          // neither
        commandModulesLoaded();
        await tick(); check();          // the command only
        loaded();
        await tick(); check();          // both
      `),
    ).toEqual(['off', 'off', 'on']);
    expect(
      run(`
        deferV8Flags(['--allow-natives-syntax'], Promise.resolve());
        await tick(); check();          // the workers only
        commandModulesLoaded();
        await tick(); check();
      `),
    ).toEqual(['off', 'on']);
  });

  it('sets nothing when nothing was held, and holds flags only once', () => {
    expect(
      run(`
        commandModulesLoaded();
        await tick(); check();
        deferV8Flags(['--allow-natives-syntax'], Promise.resolve());
        commandModulesLoaded();
        await tick(); check();
      `),
    ).toEqual(['off', 'on']);
  });
});
