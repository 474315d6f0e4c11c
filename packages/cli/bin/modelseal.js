#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
} from 'node:fs';
import nodeModule, { createRequire, enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * Where Node may keep the compiled code of modelseal and its dependencies
 * between runs (about 8 % of a short command's CPU): a directory of this
 * user's own, never the shared temporary directory that is Node's default,
 * where another local user could plant compiled code. Undefined (no cache)
 * when that directory cannot be made private.
 */
function privateCompileCache() {
  try {
    const xdg = process.env.XDG_CACHE_HOME;
    const base =
      process.platform === 'win32'
        ? (process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'))
        : process.platform === 'darwin'
          ? join(homedir(), 'Library', 'Caches')
          : // The XDG rule: a relative XDG_CACHE_HOME is ignored.
            xdg && isAbsolute(xdg)
            ? xdg
            : join(homedir(), '.cache');
    const own = join(base, 'modelseal');
    const dir = join(own, 'node-compile-cache');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Ours and closed to others, the folder and the one it is in (whoever
    // can write there could swap the folder).
    for (const path of [own, dir]) {
      const stat = lstatSync(path);
      if (!stat.isDirectory()) return undefined;
      if (process.platform !== 'win32') {
        if (stat.uid !== process.getuid?.()) return undefined;
        if ((stat.mode & 0o022) !== 0) return undefined;
      }
    }
    return dir;
  } catch {
    return undefined;
  }
}

/** The value of `--name V` or `--name=V` in the arguments (a hint: the command parses them). */
function flagValue(name) {
  const at = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (at === -1) return undefined;
  return args[at] === name ? args[at + 1] : args[at].slice(name.length + 1);
}

/**
 * What the bundle at `path` says of its model's serialization, from its
 * first `limit` bytes: `{ shards: false }` for files, `{ shards: true,
 * shardSize }` for shards (0 when it does not say), undefined when the
 * peek cannot tell (no payload in those bytes, or no method in the part of
 * the statement they hold: the reference sometimes writes the resources
 * first). A peek before anything is verified, only to start workers ahead
 * and choose V8 settings: a bundle that lies costs workers started for
 * nothing or late, or a slower run, never a check (the command verifies it
 * all).
 */
function bundleSerialization(path, limit) {
  let fd;
  try {
    // Non-blocking: a FIFO must not wait for a writer (no effect on files).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) return undefined;
    // At most `limit` bytes, whatever the file does meanwhile.
    const bytes = Buffer.alloc(Math.min(limit, stat.size));
    let length = 0;
    for (let n; length < bytes.length; length += n) {
      n = readSync(fd, bytes, length, bytes.length - length, length);
      if (n === 0) break;
    }
    const payload = /"payload"\s*:\s*"([A-Za-z0-9+/=]*)/.exec(
      bytes.toString('latin1', 0, length),
    );
    if (payload === null) return undefined;
    // The whole groups of four that the peek holds.
    const text = payload[1].slice(0, payload[1].length & ~3);
    const statement = Buffer.from(text, 'base64').toString('latin1');
    const method = /"method"\s*:\s*"(files|shards)"/.exec(statement);
    if (method === null) return undefined;
    if (method[1] === 'files') return { shards: false };
    const size = /"shard_size"\s*:\s*([1-9][0-9]{0,14})[,}\s]/.exec(statement);
    return { shards: true, shardSize: size === null ? 0 : Number(size[1]) };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// `--version` answers before anything else is loaded.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(
    `${createRequire(import.meta.url)('../package.json').version}\n`,
  );
  process.exit(0);
}

/**
 * Our own modules' relative imports resolved without Node's resolver: each
 * `./x.js` or `../x.js` that a module of the CLI's `dist/` or of
 * `@modelseal/core`'s `dist/` imports from those folders is the URL it
 * names, an ES module (both packages are `"type": "module"`, and neither
 * `dist/` holds a `package.json` or a link). Node's resolver would also
 * find the file's real path and make a URL of it again, normalising the
 * whole path twice a module: over the 33-94 modules a command loads, from
 * an install whose paths are long (with npm, a project path of about 60
 * characters; fewer with pnpm's `.pnpm` folder), that made Node 24's
 * `normalizeString` hot enough for V8's optimising compiler while the
 * command loaded, 5-6 MiB of the `node` binary paged in for it. BLAKE3
 * `digest` of a 2 GiB model, alternating runs: from an 81-character
 * project path with npm 82.3-83.0 -> 76.1-76.6 MiB, with pnpm from a
 * 51-character one 82.7-83.6 -> 76.4-77.1, the same time; `verify key` of
 * one file 65.3-66.5 -> 57.0-57.4 MiB and 83 -> 74 ms. Node's own
 * URL-to-path conversion of each module still gets that hot from deeper
 * (that `digest`: about 140 characters; `verify key`: about 100). Node 22
 * compiles its path code with TurboFan from short paths with or without
 * this.
 *
 * Both folders are learned from Node's answers, never from this file's
 * URL (which `--preserve-symlinks-main` leaves a link's): the CLI's from
 * the first `../dist/...` this file imports, the library's from the first
 * `@modelseal/core/...`. Everything else goes to Node's resolver: this
 * file's imports, bare names (npm packages), `node:` modules, JSON,
 * anything outside those folders or from a parent with a query or hash
 * (another hook's). A resolve hook of the user's (`--import`) does not see
 * our relative imports; a missing file of ours is reported as ENOENT, not
 * ERR_MODULE_NOT_FOUND. On a Node without `registerHooks` (before 22.15,
 * outside `engines`) Node resolves them all.
 */
function resolveOwnModules() {
  const { registerHooks } = nodeModule;
  if (typeof registerHooks !== 'function') return;
  const own = [];
  const plain = (url) =>
    url.startsWith('file:') && !url.includes('?') && !url.includes('#');
  const ours = (url) => own.some((root) => url.startsWith(root));
  const CLI_DIST = '../dist/';
  const CORE = '@modelseal/core/';
  const CORE_DIST = '/core/dist/';
  try {
    registerHooks({
      resolve(specifier, context, next) {
        const parent = context.parentURL;
        if (
          parent !== undefined &&
          (specifier.startsWith('./') || specifier.startsWith('../')) &&
          specifier.endsWith('.js') &&
          plain(parent) &&
          ours(parent)
        ) {
          const url = new URL(specifier, parent);
          if (url.search === '' && url.hash === '' && ours(url.href))
            return { url: url.href, format: 'module', shortCircuit: true };
        }
        const resolved = next(specifier, context);
        if (own.length < 2 && plain(resolved.url)) {
          let root;
          if (parent === import.meta.url && specifier.startsWith(CLI_DIST)) {
            const tail = specifier.slice(CLI_DIST.length);
            if (resolved.url.endsWith(`/dist/${tail}`))
              root = resolved.url.slice(0, -tail.length);
          } else if (specifier.startsWith(CORE)) {
            const at = resolved.url.lastIndexOf(CORE_DIST);
            if (at !== -1) root = resolved.url.slice(0, at + CORE_DIST.length);
          }
          if (root !== undefined && !own.includes(root)) own.push(root);
        }
        return resolved;
      },
    });
  } catch {
    // Resolution as before.
  }
}
resolveOwnModules();

// Start-up: NODE_COMPILE_CACHE (Node's own setting) wins;
// NODE_DISABLE_COMPILE_CACHE=1 turns the cache off. Node files compiled code
// under a tag of the V8 flags in force when the cache is enabled, and V8
// rejects code cached under other flags: a run that sets flags before it
// loads the command (verify of a large model, below) enables the cache
// after them, so that its code is kept beside the usual runs', not written
// over theirs. (With NODE_COMPILE_CACHE, Node enables it before this
// file runs, and such runs share it.)
let cacheEnabled = false;
function enableCache() {
  if (cacheEnabled) return;
  cacheEnabled = true;
  if (process.env.NODE_COMPILE_CACHE) enableCompileCache?.();
  else if (!process.env.NODE_DISABLE_COMPILE_CACHE) {
    const dir = privateCompileCache();
    if (dir !== undefined) enableCompileCache?.(dir);
  }
}
const prestarting =
  (args[0] === 'digest' || args[0] === 'sign' || args[0] === 'verify') &&
  args.length > 1 &&
  !args.some((a) => a === '--help' || a === '-h');
// verify chooses its settings from a look at the model, just below.
if (!(prestarting && args[0] === 'verify')) enableCache();

// `modelseal inspect model.sig | head`: a closed pipe ends the command quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// Ctrl-C (SIGINT): the command is aborted through its signal and ends with one
// line, "modelseal: interrupted", and exit code 130. Work that does not stop
// within GRACE_MS (a service call, a parser between checks), or a second
// Ctrl-C, ends the process at once with the same line and code.
const GRACE_MS = 2000;
const controller = new AbortController();
let finished = false;
const interruptNow = () => {
  if (finished) return;
  finished = true;
  // A progress bar may be on the line: clear it first.
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
  process.stderr.write('modelseal: interrupted\n');
  process.exit(130);
};
let grace;
process.on('SIGINT', () => {
  if (controller.signal.aborted) interruptNow();
  controller.abort(new Error('interrupted'));
  grace = setTimeout(interruptNow, GRACE_MS);
});
// A large model is hashed on every core: the hash workers start now (50-100
// ms each on a small machine), while the command's modules load, the bundle
// is read and the model is listed, instead of after. Only for a model path
// where the documented forms put it: right after the command (and its
// method), or last; the library decides from a bounded look at the path
// whether workers will be used.
if (prestarting) {
  const methods = ['sigstore', 'key', 'certificate'];
  const first =
    args[0] !== 'digest' && methods.includes(args[1]) ? args[2] : args[1];
  const last =
    first !== undefined && !first.startsWith('-')
      ? first
      : args[args.length - 1];
  // A plain file hashed whole needs no look (nor the module that looks).
  // (Any problem with the path is the command's to report, not this look's.)
  let stat;
  try {
    if (!last.startsWith('-')) stat = statSync(last);
  } catch {
    stat = undefined;
  }
  // One large file uses workers only when it is cut into shards: `--shard-size`
  // for digest and sign, the bundle for verify (a peek, see below).
  // The shard size, when known, bounds the workers started to those the
  // shards keep busy.
  let shards;
  let shardSize;
  // Whether the serialization is known: always for digest and sign (their
  // flags choose it), for verify when the bundle's first bytes say it.
  let method = true;
  if (args[0] === 'verify') {
    // A folder too: in shards, its files are more ranges than they seem.
    // The first 64 KiB of the bundle hold its statement's method and shard
    // size wherever this library wrote them, whatever the model's size.
    const bundle =
      flagValue('--signature') ?? flagValue('--bundle') ?? 'model.sig';
    const said =
      (stat?.isFile() === true && stat.size >= 16 * 1024 * 1024) ||
      stat?.isDirectory() === true
        ? bundleSerialization(bundle, 64 * 1024)
        : undefined;
    method = said !== undefined;
    shards = said?.shards === true;
    if (said?.shardSize) shardSize = said.shardSize;
  } else {
    shards = args.some((a) => /^--shard[-_]size(=|$)/.test(a));
    const text = flagValue('--shard-size') ?? flagValue('--shard_size');
    if (
      text !== undefined &&
      /^[1-9][0-9]*$/.test(text) &&
      Number.isSafeInteger(Number(text))
    )
      shardSize = Number(text);
  }
  // --threads N as the command reads it; given twice or not a number, the
  // command refuses it, and nothing is started here (nor past 256: then one
  // thread, no worker).
  const text = flagValue('--threads');
  const threadsUsable =
    args.filter((a) => a === '--threads' || a.startsWith('--threads=')).length <
      2 &&
    (text === undefined || /^[1-9][0-9]*$/.test(text));
  if (threadsUsable && stat !== undefined && (stat.isDirectory() || shards)) {
    const { prestartHashWorkers, whenHashWorkersLoaded, whenListingStarts } =
      await import('../dist/process/prestart.js');
    const threads =
      text === undefined ? undefined : Number(text) <= 256 ? Number(text) : 1;
    const { large, manyFiles, workers, fewRanges, largeRanges } =
      prestartHashWorkers(last, {
        concurrency: threads,
        shards,
        shardSize,
        // verify decodes the statement first: a worker started ahead for a
        // tree of many files would only be held through that phase.
        fewFilesOnly: args[0] === 'verify',
      });
    if (large) {
      const { addStatementFlags, deferV8Flags, setV8Flags } =
        await import('../dist/process/v8-flags.js');
      // Set now, before the command's modules load (the look and this
      // module load before the compile cache is enabled, for verify, so
      // that the cache is filed under the flags in force: see above).
      // Node's own modules loaded after this compile without their code
      // cache, and so does a worker just started (together 2-3 % of a 2 GiB
      // model's verify).
      const early = [];
      // verify of a large model never needs V8's optimising compiler (its
      // time is in native hashing, below), and loading its 67 modules could
      // already call it in: Node's ESM loader turns each module's URL into
      // a path, and from an install under a long path that was hot enough
      // for TurboFan (5 MiB of the `node` binary paged in: a 2 GiB model, 8
      // alternating runs, 82.1-83.0 -> 77.4-77.6 MiB, 2-3 % longer). Our
      // own resolution (resolveOwnModules, above) made that rarer, not
      // impossible: for verify from a project path of about 100
      // characters (npm), and on Node 22 from short ones. digest loads
      // fewer modules, and the worker it starts ahead would pay the
      // setting (6-7 % longer): it keeps the setting for later (below).
      if (args[0] === 'verify') early.push('--no-turbofan');
      // verify of a large tree of many files of 64 KiB or more on average
      // (no worker started ahead: the statement is decoded first) also
      // keeps V8's young generation at its first size, which loading its
      // modules grew (1 -> 2 MiB a semi-space; 5,000 files of 4 KiB-1 MiB,
      // 16 alternating runs: 80.3 -> 78.8 MiB, 573 -> 582 ms). Not for
      // smaller files, whose decode and comparison make more garbage per
      // byte (200,000 files of 4 KiB: 14 % longer, 1.2 MiB lower), nor with
      // a worker started ahead (the setting then waits for it:
      // v8-flags.ts).
      if (
        args[0] === 'verify' &&
        workers === 0 &&
        manyFiles &&
        method &&
        largeRanges
      )
        early.push('--semi-space-growth-factor=1');
      setV8Flags(early);
      // The rest once the model is listed and every hash worker has loaded
      // its module: a flag set earlier costs every later compile its code
      // cache (v8-flags.ts). From the listing on, not the hashing: the 4
      // KiB-1 MiB mix peaked 5-6 MiB lower (digest 81-83 against 87-90 MiB).
      const flags = [];
      // A large model is held in typed arrays, but V8 would still grow its
      // young generation (up to 128 MiB on Node 24) while it is listed and
      // hashed: at 200,000 files that was 40 MiB of the peak (issue 11 item
      // 4). verify sets it itself for a large statement, before decoding it.
      if (args[0] !== 'verify') flags.push('--semi-space-growth-factor=1');
      // Nor does digest need V8's optimising compiler (verify has it off
      // already, above): its time is spent in native hashing, and the
      // compiler's code (5.4 MiB of the `node` binary) and memory page in
      // once a loop runs long. An 8 GiB model: 82.8 -> 77.2 MiB for the
      // same CPU time. Maglev still compiles hot code.
      if (args[0] === 'digest') flags.push('--no-turbofan');
      // Nor Maglev, for a model of at most 64 ranges to hash (files, or
      // their shards): the only JS that runs hot is then the loop around the
      // native hashing, and Maglev's compiles of it, late in a long run, held
      // 1-2 MiB of the peak (one 4 GiB file in 5 shards, alternating: verify
      // 78.8-79.6 -> 77.6-78.1 MiB, digest 75.3-76.6 -> 74.2-74.6, no more
      // CPU). Nor for ranges of 64 KiB or more on average, however many:
      // each takes far longer to hash than its JS, and Maglev's compile
      // memory stays in its threads' malloc arenas (5,000 files of 4 KiB-1
      // MiB: digest 81.1-81.7 -> 76.5-76.7 MiB, and a little faster). Many
      // smaller ranges keep it: their listing, hand-out and comparison are
      // JS (200,000 files of 4 KiB: 4.5 s instead of 3.0 without; 20,000 of
      // 16 KiB: 0.70 instead of 0.55; one file in 65,536 shards: 1.05 s
      // instead of 0.78).
      // Only when the ranges are known to be files or shards: a verify
      // whose bundle does not say keeps Maglev (many small shards would
      // run up to 31 % slower without it).
      const lightJs = method && (fewRanges || largeRanges);
      if (args[0] !== 'sign' && lightJs) flags.push('--no-maglev');
      deferV8Flags(
        flags,
        whenListingStarts().then(() => whenHashWorkersLoaded()),
      );
      // verify decodes a large statement first, with Maglev (its decode is
      // hot JS): for large ranges without Maglev's inlining, whose compile
      // memory was 3 MiB of the peak (the 5,000-file mix: 83.9-84.4 ->
      // 80.4-81.3 MiB, the same time); for small ones it stays (200,000
      // files of 4 KiB: 5 % more CPU without).
      if (args[0] === 'verify' && method && largeRanges)
        addStatementFlags(['--no-maglev-inlining']);
    }
  }
}

enableCache();
const { main } = await import('../dist/main.js');
const { processIo } = await import('../dist/io.js');
const code = await main(args, processIo(controller.signal));
finished = true;
clearTimeout(grace);
process.exitCode = code;
