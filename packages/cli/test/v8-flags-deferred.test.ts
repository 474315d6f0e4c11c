// SPDX-License-Identifier: Apache-2.0
// Issue 11: the CLI's V8 settings for a large model are held until the
// hashing has started and the hash workers have loaded their module (a flag
// set at run time costs every later compile its code cache), and a flag is
// set once only. Run in a child process, since a flag is process-wide; the
// flag here, --allow-natives-syntax, shows at once whether it is in force:
// only then does `%IsSmi(1)` compile. The order in the real CLI:
// v8-flags-order.test.ts.
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
    const { deferV8Flags, setV8Flags } = await import(${JSON.stringify(MODULE)});
    const v8 = (await import('node:module')).createRequire(import.meta.url)('node:v8');
    let calls = 0;
    const original = v8.setFlagsFromString;
    v8.setFlagsFromString = (flag) => { calls++; return original(flag); };
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
  it('holds the flags until the moment given resolves', () => {
    expect(
      run(`
        let now;
        deferV8Flags(['--allow-natives-syntax'], new Promise((r) => (now = r)));
        await tick(); check();          // not yet
        now();
        await tick(); check();          // then
      `),
    ).toEqual(['off', 'on']);
  });

  it('never sets them when the moment never comes', () => {
    expect(
      run(`
        deferV8Flags(['--allow-natives-syntax'], new Promise(() => {}));
        await tick(); check();
      `),
    ).toEqual(['off']);
  });

  it('sets a flag once: set again, it would change the flag hash again', () => {
    expect(
      run(`
        setV8Flags(['--allow-natives-syntax']);
        setV8Flags(['--allow-natives-syntax']);
        deferV8Flags(['--allow-natives-syntax'], Promise.resolve());
        await tick(); check();
        seen.push(String(calls));
      `),
    ).toEqual(['on', '1']);
  });
});
