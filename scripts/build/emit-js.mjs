#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * The JavaScript that ships, without comments: after `tsc -b` (which type
 * checks and writes the declarations with their documentation), each
 * package's `dist/**.js` is written again from its source by TypeScript's
 * own single-file emit with `removeComments`, without a source map: the
 * maps would point at `src/*.ts`, which the packages do not ship (nor the
 * maps). tsc's own `.map` files are removed and the `//# sourceMappingURL`
 * line of each declaration file too, so that no shipped file names a file
 * the tarball lacks (scripts/ci/consumer-test.sh checks the packed tarballs).
 *
 * Why: a module's source text is a string the process keeps for as long as
 * it runs, and the comments were 29 % of what `verify` loads (343 of 1,275
 * KB shipped). Compiling that text is where V8's young generation grew for
 * a verify of many files (issue 11 item 4): the 5,000-file mix's peak was
 * 3.8 MiB higher with the comments. The declarations keep every comment:
 * editors show them.
 *
 * The same emit as tsc's: every file compiles on its own
 * (`verbatimModuleSyntax`, `isolatedDeclarations`); `--check` proves it,
 * comparing each file's text with the whole program's emit (what `tsc
 * --removeComments` writes) and writing nothing. A file is written only when
 * its text changes.
 *
 * Usage: node scripts/build/emit-js.mjs [--check] [PACKAGE_DIR...]
 * (default: packages/core packages/cli).
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function fail(message) {
  process.stderr.write(`emit-js: ${message}\n`);
  process.exit(1);
}

/** The package's options for JS alone, without comments (no declarations, no build info). */
const JS_ONLY = {
  removeComments: true,
  declaration: false,
  declarationMap: false,
  composite: false,
  isolatedDeclarations: false,
  incremental: false,
  tsBuildInfoFile: undefined,
};

/** Writes `text` to `path` unless it already holds it; true when written. */
function writeIfChanged(path, text) {
  let old;
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    old = undefined;
  }
  if (old === text) return false;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return true;
}

function emitPackage(dir) {
  const configPath = join(dir, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) =>
      fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
  });
  if (parsed === undefined) fail(`cannot read ${configPath}`);
  if (parsed.errors.length > 0)
    fail(
      `${relative(ROOT, configPath)}: ${ts.flattenDiagnosticMessageText(parsed.errors[0].messageText, ' ')}`,
    );
  const { options, fileNames } = parsed;
  if (!options.outDir || !options.rootDir)
    fail(`${configPath}: outDir and rootDir are required`);
  // Every file of ours is an ES module ("type": "module"): said here, since
  // a single-file emit cannot read package.json (NodeNext would make it
  // CommonJS).
  if (
    JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type !==
    'module'
  )
    fail(`${dir}: only packages of "type": "module" are emitted`);
  const compilerOptions = {
    ...options,
    ...JS_ONLY,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    sourceMap: false,
  };
  const sources = fileNames.filter(
    (file) => file.endsWith('.ts') && !file.endsWith('.d.ts'),
  );
  const outOf = (file) =>
    join(
      options.outDir,
      relative(options.rootDir, file).replace(/\.ts$/, '.js'),
    );
  if (check) return checkPackage(options, sources, compilerOptions, outOf);
  let written = 0;
  let count = 0;
  for (const file of sources) {
    const out = outOf(file);
    const result = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions,
      fileName: file,
      reportDiagnostics: true,
    });
    const errors = (result.diagnostics ?? []).filter(
      (d) => d.category === ts.DiagnosticCategory.Error,
    );
    if (errors.length > 0)
      fail(
        `${relative(ROOT, file)}: ${ts.flattenDiagnosticMessageText(errors[0].messageText, ' ')}`,
      );
    count += 1;
    if (writeIfChanged(out, result.outputText)) written += 1;
  }
  withoutSourceMaps(options.outDir);
  return { count, written };
}

const SOURCE_MAP_LINE = /\n\/\/# sourceMappingURL=[^\n]*\n?$/;

/**
 * Under `dir`: every `.map` removed (tsc writes them: `sourceMap` and
 * `declarationMap` of tsconfig.base.json) and the `//# sourceMappingURL`
 * line of every `.js` and `.d.ts` that still has one. `tsc -b` decides what
 * to rebuild from its build info, not from these files.
 */
function withoutSourceMaps(dir) {
  for (const entry of readdirSync(dir, {
    recursive: true,
    withFileTypes: true,
  })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (entry.name.endsWith('.map')) rmSync(path, { force: true });
    else if (entry.name.endsWith('.js') || entry.name.endsWith('.d.ts')) {
      const text = readFileSync(path, 'utf8');
      if (SOURCE_MAP_LINE.test(text))
        writeFileSync(path, text.replace(SOURCE_MAP_LINE, '\n'));
    }
  }
}

/** Without a source-map line (neither emit here writes one; kept as a guard). */
function code(text) {
  return text.replace(SOURCE_MAP_LINE, '\n');
}

/**
 * `--check`: each file's single-file emit against the whole program's, the
 * package's own options with `removeComments` (tsc's output, comments
 * aside). Writes nothing; the files that differ are named.
 */
function checkPackage(options, sources, compilerOptions, outOf) {
  const program = ts.createProgram(sources, {
    ...options,
    ...JS_ONLY,
    sourceMap: false,
    noEmit: false,
  });
  const whole = new Map();
  program.emit(undefined, (name, text) => {
    if (name.endsWith('.js')) whole.set(resolve(name), text);
  });
  const differ = [];
  for (const file of sources) {
    const single = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions,
      fileName: file,
    }).outputText;
    const expected = whole.get(resolve(outOf(file)));
    if (expected === undefined || code(expected) !== code(single))
      differ.push(relative(ROOT, file));
  }
  if (differ.length > 0)
    fail(
      `the single-file emit differs from the program's for ${differ.length} file(s): ${differ.slice(0, 10).join(', ')}`,
    );
  return { count: sources.length, written: 0 };
}

const args = process.argv.slice(2);
const check = args.includes('--check');
const dirs = args.filter((a) => a !== '--check');
for (const dir of dirs.length > 0 ? dirs : ['packages/core', 'packages/cli']) {
  const { count, written } = emitPackage(resolve(ROOT, dir));
  process.stdout.write(
    check
      ? `emit-js: ${relative(ROOT, resolve(ROOT, dir))}: ${count} files, each the compiler's own emit without comments\n`
      : `emit-js: ${relative(ROOT, resolve(ROOT, dir))}: ${count} files, ${written} written without comments\n`,
  );
}
