// SPDX-License-Identifier: Apache-2.0
// The bin resolves our own modules' relative imports itself (a resolve hook),
// without Node's resolver and its two path normalisations a module: from an
// install under a long path those made Node's `normalizeString` hot enough
// for V8's optimising compiler while a command loaded, 5-6 MiB of the `node`
// binary paged in (docs/performance.md). Checked on real processes, each
// against the same run with the bin's hook turned off: the same modules load
// under the same URLs and formats (in the repository, and in pnpm's layout
// run through its link, with and without `--preserve-symlinks-main`), those
// imports no longer reach Node's resolver, and from a copy under a long path
// the optimising compiler is not called in.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/run-cli.js';

const PACKAGES = fileURLToPath(new URL('../../', import.meta.url));
const SAMPLE = fileURLToPath(
  new URL('../../../test-vectors/sample-model', import.meta.url),
);
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

// Preloaded: its hooks are registered before the bin's, so its resolve hook
// sees only what the bin's hook passes on to Node's resolver, and its load
// hook every module loaded, with its format. With OWN_HOOK_OFF=1 the bin
// finds no registerHooks and leaves every import to Node.
const PRELOAD = `
import nodeModule from 'node:module';
const { registerHooks } = nodeModule;
if (process.env.OWN_HOOK_OFF === '1') nodeModule.registerHooks = undefined;
const passed = [];
const loaded = [];
registerHooks({
  resolve(specifier, context, next) {
    passed.push([specifier, context.parentURL ?? '']);
    return next(specifier, context);
  },
  load(url, context, next) {
    const result = next(url, context);
    loaded.push([url, result.format]);
    return result;
  },
});
process.on('exit', () => {
  process.stdout.write('\\nHOOKED ' + JSON.stringify({ passed, loaded }) + '\\n');
});
`;

interface Hooked {
  /** The command's own output, without the preload's line. */
  out: string;
  /** [specifier, parent URL] of each resolution that reached Node's resolver. */
  passed: [string, string][];
  /** [URL, format] of every module loaded, sorted. */
  loaded: [string, string][];
}

/** Our modules: under a `dist/` of the CLI or the library. */
const own = (url: string): boolean =>
  /\/(cli|core)\/dist\//.test(url) && url.startsWith('file:');

/** Relative imports of ours that reached Node's resolver. */
const relativeOfOurs = (r: Hooked): [string, string][] =>
  r.passed.filter(
    ([specifier, parent]) =>
      /^\.\.?\//.test(specifier) && specifier.endsWith('.js') && own(parent),
  );

describe('the bin resolves its own modules itself', () => {
  let dir = '';
  let preload = '';
  let model = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ms-own-resolution-'));
    preload = join(dir, 'preload.mjs');
    writeFileSync(preload, PRELOAD);
    model = join(dir, 'model');
    cpSync(SAMPLE, model, { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function hooked(
    bin: string,
    args: string[],
    options: { off?: boolean; flags?: string[] } = {},
  ): Hooked {
    const stdout = execFileSync(
      process.execPath,
      [...(options.flags ?? []), '--import', preload, bin, ...args],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, OWN_HOOK_OFF: options.off ? '1' : '0' },
      },
    );
    const at = stdout.lastIndexOf('\nHOOKED ');
    if (at === -1) throw new Error(`no HOOKED line in: ${stdout}`);
    const r = JSON.parse(stdout.slice(at + '\nHOOKED '.length)) as Omit<
      Hooked,
      'out'
    >;
    return {
      out: stdout.slice(0, at),
      passed: r.passed,
      loaded: r.loaded.sort(),
    };
  }

  /** The bin's run and the same run without its hook: the same modules. */
  function compared(
    bin: string,
    args: string[],
    flags: string[] = [],
  ): { on: Hooked; off: Hooked } {
    const on = hooked(bin, args, { flags });
    const off = hooked(bin, args, { flags, off: true });
    expect(on.out).toBe(off.out);
    expect(on.loaded).toEqual(off.loaded);
    // The commands load many of our modules, and without the hook Node
    // resolved their relative imports; with it, none reach Node.
    expect(on.loaded.filter(([url]) => own(url)).length).toBeGreaterThan(20);
    expect(relativeOfOurs(off).length).toBeGreaterThan(20);
    expect(relativeOfOurs(on)).toEqual([]);
    return { on, off };
  }

  for (const command of ['digest', 'scan']) {
    it(`${command}: the same modules as Node's resolver gives, none of our relative imports through it`, () => {
      const { on } = compared(CLI, [command, model]);
      expect(on.out).toMatch(
        command === 'digest' ? /^sha256:/ : /scanned 5 files/,
      );
      // Only ES modules of ours were loaded.
      expect(
        on.loaded.filter(([url, format]) => own(url) && format !== 'module'),
      ).toEqual([]);
    });
  }

  it("through pnpm's layout, run by its link, with and without --preserve-symlinks-main", () => {
    // The packages as pnpm lays them out: each in its own .pnpm folder, the
    // library reachable from the CLI's real folder only, the project's
    // node_modules holding a link to the CLI.
    const project = join(dir, 'pnpm-project');
    const store = join(project, 'node_modules/.pnpm');
    const cliReal = join(
      store,
      '@modelseal+cli@0.1.0/node_modules/@modelseal/cli',
    );
    const coreReal = join(
      store,
      '@modelseal+core@0.1.0/node_modules/@modelseal/core',
    );
    copyPackage('cli', cliReal);
    copyPackage('core', coreReal);
    symlinkSync(coreReal, join(dirname(cliReal), 'core'), 'dir');
    mkdirSync(join(project, 'node_modules/@modelseal'));
    symlinkSync(cliReal, join(project, 'node_modules/@modelseal/cli'), 'dir');
    const linked = join(
      project,
      'node_modules/@modelseal/cli/bin/modelseal.js',
    );
    const direct = execFileSync(process.execPath, [CLI, 'digest', model], {
      encoding: 'utf8',
    });
    for (const flags of [[], ['--preserve-symlinks-main']]) {
      for (const command of ['digest', 'scan']) {
        const { on } = compared(linked, [command, model], flags);
        if (command === 'digest') expect(on.out.trim()).toBe(direct.trim());
        // Every module of ours from the real folders: none under the link.
        const underLink = on.loaded.filter(
          ([url]) =>
            own(url) && url.includes('/pnpm-project/node_modules/@modelseal/'),
        );
        expect(underLink).toEqual([]);
      }
    }
  });

  it.skipIf(NODE_MAJOR < 24)(
    "from a copy under a 100-character project path, loading digest leaves Node's path code to V8's baseline compilers (Node 24: Node 22 compiles it from short paths either way)",
    () => {
      // npm's layout. Before, Node's resolver made normalizeString hot enough
      // for TurboFan from a project path of about 84 characters in this
      // layout (one-file digest); with the hook, from about 166.
      const base = join(dir, 'deep');
      if (base.length > 90)
        throw new Error(
          `the temporary directory's path is too long for a 100-character project: ${base}`,
        );
      const project = join(base, 'p'.repeat(100 - base.length - 1));
      expect(project.length).toBe(100);
      const modules = join(project, 'node_modules/@modelseal');
      copyPackage('cli', join(modules, 'cli'));
      copyPackage('core', join(modules, 'core'));
      const file = join(model, 'model.safetensors');
      const out = execFileSync(
        process.execPath,
        ['--trace-opt', join(modules, 'cli/bin/modelseal.js'), 'digest', file],
        {
          encoding: 'utf8',
          env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' },
        },
      );
      const direct = execFileSync(process.execPath, [CLI, 'digest', file], {
        encoding: 'utf8',
      });
      // The command ran, from the copy, to the same digest, and V8 traced
      // its compiles.
      expect(out).toContain(direct.trim());
      expect(out).toContain('compiling method');
      const turbofan = out
        .split('\n')
        .filter(
          (l) => l.includes('TURBOFAN') && l.startsWith('[compiling method'),
        );
      expect(turbofan).toEqual([]);
    },
  );
});

/** The files of one of our packages that an install holds (no declarations). */
function copyPackage(name: 'cli' | 'core', to: string): void {
  const parts =
    name === 'cli' ? ['bin', 'dist', 'package.json'] : ['dist', 'package.json'];
  for (const part of parts)
    cpSync(join(PACKAGES, name, part), join(to, part), {
      recursive: true,
      filter: (source) =>
        !source.endsWith('.d.ts') &&
        !source.endsWith('.map') &&
        !source.endsWith('.tsbuildinfo'),
    });
}
