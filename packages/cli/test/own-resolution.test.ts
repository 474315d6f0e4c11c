// SPDX-License-Identifier: Apache-2.0
// The bin resolves our own modules' relative imports itself (a resolve hook),
// without Node's resolver and its two path normalisations a module: from an
// install under a long path those made Node's `normalizeString` hot enough
// for V8's optimising compiler while a command loaded, 5-6 MiB of the `node`
// binary paged in (docs/performance.md). Checked on real processes: what
// still reaches Node's resolver, that every module is loaded once under its
// real path (as Node's resolver would name it), through a link as pnpm
// installs, and that from a copy under a long path the compiler is not
// called in.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'packages/cli/bin/modelseal.js');
const SAMPLE = join(ROOT, 'test-vectors/sample-model');

// Preloaded: its hooks are registered before the bin's, so its resolve hook
// sees only what the bin's hook passes on to Node's resolver, and its load
// hook every module loaded.
const PRELOAD = `
import { registerHooks } from 'node:module';
const passed = [];
const loaded = [];
registerHooks({
  resolve(specifier, context, next) {
    passed.push([specifier, context.parentURL ?? '']);
    return next(specifier, context);
  },
  load(url, context, next) {
    loaded.push(url);
    return next(url, context);
  },
});
process.on('exit', () => {
  process.stdout.write('\\nHOOKED ' + JSON.stringify({ passed, loaded }) + '\\n');
});
`;

interface Hooked {
  /** [specifier, parent URL] of each resolution that reached Node's resolver. */
  passed: [string, string][];
  /** Every module URL loaded. */
  loaded: string[];
}

describe('the bin resolves its own modules itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-own-resolution-'));
  const preload = join(dir, 'preload.mjs');
  writeFileSync(preload, PRELOAD);
  const model = join(dir, 'model');
  cpSync(SAMPLE, model, { recursive: true });

  function hooked(bin: string, args: string[]): { out: string; r: Hooked } {
    const out = execFileSync(
      process.execPath,
      ['--import', preload, bin, ...args],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const line = out.split('\n').find((l) => l.startsWith('HOOKED '));
    if (line === undefined) throw new Error(`no HOOKED line in: ${out}`);
    return { out, r: JSON.parse(line.slice('HOOKED '.length)) as Hooked };
  }

  const own = (url: string): boolean =>
    /\/packages\/(core|cli)\/(dist|bin)\//.test(url);

  for (const args of [['digest'], ['scan']]) {
    it(`${args[0]}: only bare names and files outside our code reach Node's resolver`, () => {
      const { r } = hooked(BIN, [...args, model]);
      const ours = r.loaded.filter(own);
      // The command did load our modules: 20 or more.
      expect(ours.length).toBeGreaterThan(20);
      const relative = r.passed.filter(
        ([specifier, parent]) =>
          /^\.\.?\//.test(specifier) &&
          specifier.endsWith('.js') &&
          own(parent),
      );
      expect(relative).toEqual([]);
      // The library is found by Node, by its package name.
      expect(r.passed.some(([s]) => s.startsWith('@modelseal/core/'))).toBe(
        true,
      );
      // Each module once, under the URL of its real path: what Node's
      // resolver would have given.
      for (const url of ours)
        expect(url).toBe(pathToFileURL(realpathSync(fileURLToPath(url))).href);
      expect(new Set(ours).size).toBe(ours.length);
    });
  }

  it('through a linked install (as pnpm makes one), every module under its real path', () => {
    const project = join(dir, 'project');
    mkdirSync(join(project, 'node_modules/@modelseal'), { recursive: true });
    symlinkSync(
      join(ROOT, 'packages/cli'),
      join(project, 'node_modules/@modelseal/cli'),
      'dir',
    );
    const linked = join(
      project,
      'node_modules/@modelseal/cli/bin/modelseal.js',
    );
    const { out, r } = hooked(linked, ['digest', model]);
    const direct = execFileSync(process.execPath, [BIN, 'digest', model], {
      encoding: 'utf8',
    });
    expect(out.split('\n')[0]).toBe(direct.trim());
    const ours = r.loaded.filter(own);
    expect(ours.length).toBeGreaterThan(20);
    for (const url of ours)
      expect(url.startsWith(pathToFileURL(ROOT).href)).toBe(true);
    expect(
      r.loaded.filter((u) => u.includes('/project/node_modules/')),
    ).toEqual([]);
  });

  it("from a copy under a long path, loading digest leaves Node's path code to V8's baseline compilers", () => {
    // A project path of 100 characters with an npm layout: before, Node's
    // resolver made normalizeString hot enough for TurboFan from about 60.
    let project = dir;
    while (project.length < 100) project = join(project, 'long-project-folder');
    const modules = join(project, 'node_modules/@modelseal');
    for (const [name, parts] of [
      ['cli', ['bin', 'dist', 'package.json']],
      ['core', ['dist', 'package.json']],
    ] as const)
      for (const part of parts)
        cpSync(join(ROOT, 'packages', name, part), join(modules, name, part), {
          recursive: true,
          filter: (source) =>
            !source.endsWith('.d.ts') && !source.endsWith('.map'),
        });
    const file = join(model, 'model.safetensors');
    const out = execFileSync(
      process.execPath,
      ['--trace-opt', join(modules, 'cli/bin/modelseal.js'), 'digest', file],
      {
        encoding: 'utf8',
        env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' },
      },
    );
    const direct = execFileSync(process.execPath, [BIN, 'digest', file], {
      encoding: 'utf8',
    });
    // The command ran, from the copy, to the same digest.
    expect(out).toContain(direct.trim());
    expect(out).toContain('compiling method');
    const turbofan = out
      .split('\n')
      .filter(
        (l) => l.includes('TURBOFAN') && l.startsWith('[compiling method'),
      );
    expect(turbofan).toEqual([]);
  });
});
