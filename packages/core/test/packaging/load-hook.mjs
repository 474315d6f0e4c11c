// SPDX-License-Identifier: Apache-2.0
// Preloaded with --import: records every module file the process loads and
// prints the npm packages among them as one JSON line on exit.
import { registerHooks } from 'node:module';

const urls = new Set();
registerHooks({
  load(url, context, next) {
    urls.add(url);
    return next(url, context);
  },
});
process.on('exit', () => {
  const packages = new Set();
  for (const u of urls) {
    const m =
      /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(
        u,
      );
    if (m) packages.add(m[1]);
  }
  // Our own modules as paths under packages/ (dist/…), for tests that check
  // which command or library parts a command loaded.
  const own = [...urls]
    .map((u) => /\/packages\/(core|cli)\/(?:dist|src)\/(.+)$/.exec(u))
    .filter((m) => m !== null)
    .map((m) => `${m[1]}/${m[2]}`)
    .sort();
  // Node built-ins the process loaded (`node:v8`, `node:worker_threads`, …).
  const builtins = [...urls].filter((u) => u.startsWith('node:')).sort();
  process.stdout.write(
    `\nLOADED ${JSON.stringify({ modules: urls.size, packages: [...packages].sort(), own, builtins })}\n`,
  );
});
