// SPDX-License-Identifier: Apache-2.0
/**
 * `modelseal sign oci [METHOD] REF` and `modelseal verify oci [METHOD] REF`
 * (docs/oci.md): sign an OCI model image by its manifest and attach the
 * bundle as a referrer; verify it against that referrer. Loaded only when
 * the first argument of sign or verify is `oci`.
 */
import { resolve } from 'node:path';
import { safeJSONStringify, safeText } from '@modelseal/core/output';
import {
  signOciImage,
  verifyOciImage,
  type RegistryOptions,
  type SignOciImageOptions,
  type VerifyOciImageOptions,
} from '@modelseal/core/oci';
import { flag, parse, str, type Parsed } from '../args.js';
import { EXIT, UsageError, type ExitCode } from '../exit-codes.js';
import type { Io } from '../io.js';
import { describeSignedBy, describeSigner } from '../output/text.js';
import { OUTPUT_FLAGS } from './common.js';
import { methodAndModel, onlyFor, type CliMethod } from './method.js';
import * as sign from './sign.js';
import * as verify from './verify.js';

const REGISTRY_FLAGS = {
  'plain-http': { type: 'boolean' },
  'registry-username-env': { type: 'string' },
  'registry-password-env': { type: 'string' },
} as const;

const REGISTRY_HELP = `registry:
  --plain-http                     HTTP instead of HTTPS (default only for localhost and 127.0.0.0/8)
  --registry-username-env VAR      user name for the registry (basic or token auth) from VAR
  --registry-password-env VAR      password or token from VAR
                                   (default MODELSEAL_REGISTRY_USERNAME / MODELSEAL_REGISTRY_PASSWORD)`;

export const SIGN_OCI_HELP: string = `usage: modelseal sign oci [sigstore|key|certificate] REF [options]

Signs an OCI model image (CNCF ModelPack) by its manifest, without pulling a
layer: each layer is a file named by its org.cncf.model.filepath annotation,
with the layer's sha256 as the file's digest. The bundle is attached to the
image as an OCI referrer (subject = the manifest digest). REF is
host[:port]/repository[:tag][@sha256:...]. See docs/oci.md.

  --signature FILE                 also write the bundle to FILE
  --force                          overwrite FILE
  --no-attach                      do not attach the bundle to the image (with --signature)
  --json                           print the result as JSON
${REGISTRY_HELP}

Key, certificate and sigstore options are those of modelseal sign (--private-key,
--signing-certificate, --identity-token, ...; PKCS#11 keys are not supported here).`;

export const VERIFY_OCI_HELP: string = `usage: modelseal verify oci [sigstore|key|certificate] REF [options]

Verifies an OCI model image against the Sigstore bundle attached to it as a
referrer (or --signature FILE): the signature and signer, then every layer's
file path and digest against the signed manifest. Fetches manifests and the
bundle only. See docs/oci.md.

  --signature FILE                 verify against this bundle instead of the image's referrers
  --save-bundle FILE               write the bundle that verified to FILE (then: modelseal verify DIR
                                   --signature FILE for a directory pulled from the image)
  --force                          overwrite FILE
  --json                           print the result as JSON
${REGISTRY_HELP}

Key, certificate and sigstore options are those of modelseal verify (--public-key,
--certificate-chain, --identity, --identity-provider, ...).`;

function pick(
  flags: Record<string, unknown>,
  names: readonly string[],
): Record<string, unknown> {
  return Object.fromEntries(
    names.filter((n) => n in flags).map((n) => [n, flags[n]]),
  );
}

function registryFrom(parsed: Parsed): RegistryOptions {
  const env = (flagName: string, fallback: string): string | undefined => {
    const variable = str(parsed, flagName);
    if (variable !== undefined && process.env[variable] === undefined)
      throw new UsageError(
        `--${flagName} ${variable}: the environment variable is not set`,
      );
    return process.env[variable ?? fallback];
  };
  const options: RegistryOptions = {};
  if (flag(parsed, 'plain-http')) options.plainHttp = true;
  const username = env('registry-username-env', 'MODELSEAL_REGISTRY_USERNAME');
  const password = env('registry-password-env', 'MODELSEAL_REGISTRY_PASSWORD');
  if (username !== undefined) options.username = username;
  if (password !== undefined) options.password = password;
  return options;
}

function signatureFrom(parsed: Parsed): string | undefined {
  return str(parsed, 'signature') === undefined &&
    str(parsed, 'bundle') === undefined
    ? undefined
    : sign.signaturePathFrom(parsed);
}

function allMethodFlags(table: Record<CliMethod, readonly string[]>): string[] {
  return [...new Set(Object.values(table).flat())].filter(
    (n) => !['pkcs11-uri', 'pin-env', 'export-public-key'].includes(n),
  );
}

/** `modelseal sign oci [METHOD] REF`. */
export async function signOciCommand(
  argv: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const flags = {
    ...OUTPUT_FLAGS,
    ...REGISTRY_FLAGS,
    ...pick(sign.FLAGS, [
      ...allMethodFlags(sign.METHOD_FLAGS),
      'signature',
      'bundle',
      'force',
      'use-ambient-credentials',
      'tsa-url',
      'tsa',
    ]),
    attach: { type: 'boolean', default: true },
  } as const;
  const parsed = parse(argv, flags);
  if (parsed.values.help === true) {
    io.out(SIGN_OCI_HELP);
    return EXIT.OK;
  }
  const { method, path: reference } = methodAndModel(parsed.positionals, 'REF');
  onlyFor(method, parsed.values, sign.METHOD_FLAGS);
  const signaturePath = signatureFrom(parsed);
  const attach = parsed.values['attach'] !== false;
  if (!attach && signaturePath === undefined)
    throw new UsageError('--no-attach needs --signature FILE');
  if (io.audit)
    Object.assign(io.audit, {
      // No modelPath: the audit event would resolve it as a local path.
      method,
      ...(signaturePath === undefined ? {} : { signaturePath }),
    });
  const options = {
    ...sign.methodOptions(method, parsed, io),
    reference,
    registry: registryFrom(parsed),
    attach,
    ...(signaturePath === undefined ? {} : { signaturePath }),
    force: flag(parsed, 'force'),
  } as SignOciImageOptions;
  const result = await signOciImage(options);
  for (const warning of result.warnings)
    io.err(`modelseal: warning: ${safeText(warning.message)}`);
  const { manifest } = result;
  if (io.audit)
    Object.assign(io.audit, {
      modelName: manifest.modelName,
      rootDigest: manifest.rootDigest,
      resources: manifest.resources.length,
    });
  const layerBytes = result.layers.reduce((n, l) => n + l.size, 0);
  if (flag(parsed, 'json')) {
    io.out(
      safeJSONStringify(
        {
          schemaVersion: 1,
          ok: true,
          reference: options.reference,
          digest: result.digest,
          referrer: result.referrer,
          signature: signaturePath,
          method,
          modelName: manifest.modelName,
          rootDigest: manifest.rootDigest,
          layers: result.layers,
          layerBytes,
          bytesFetched: result.bytesFetched,
          warnings: result.warnings,
        },
        2,
      ),
    );
    return EXIT.OK;
  }
  const blobs = result.layers.filter((l) => l.content === 'blob').length;
  io.out(
    `signed ${safeText(reference)} (${result.digest}): ${manifest.resources.length} files, ${layerBytes} bytes in layers, ${result.bytesFetched} bytes fetched`,
  );
  if (blobs > 0)
    io.out(
      `  ${blobs} archive layer(s) signed as stored blobs (not unpacked files): see docs/oci.md`,
    );
  io.out(`  root digest: sha256:${manifest.rootDigest}`);
  io.out(`  signer: ${describeSignedBy(result.signedBy)}`);
  if (result.referrer !== undefined)
    io.out(`  attached as referrer ${result.referrer}`);
  if (signaturePath !== undefined)
    io.out(`  bundle: ${safeText(signaturePath)}`);
  return EXIT.OK;
}

/** `modelseal verify oci [METHOD] REF`. */
export async function verifyOciCommand(
  argv: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const flags = {
    ...OUTPUT_FLAGS,
    ...REGISTRY_FLAGS,
    ...pick(verify.FLAGS, [
      ...allMethodFlags(verify.METHOD_FLAGS),
      'signature',
      'bundle',
    ]),
    'save-bundle': { type: 'string' },
    force: { type: 'boolean' },
  } as const;
  const parsed = parse(argv, flags);
  if (parsed.values.help === true) {
    io.out(VERIFY_OCI_HELP);
    return EXIT.OK;
  }
  const { method, path: reference } = methodAndModel(parsed.positionals, 'REF');
  onlyFor(method, parsed.values, verify.METHOD_FLAGS);
  const bundlePath = signatureFrom(parsed);
  if (io.audit)
    Object.assign(io.audit, {
      // No modelPath: the audit event would resolve it as a local path.
      method,
      ...(bundlePath === undefined ? {} : { signaturePath: bundlePath }),
    });
  const options = {
    ...verify.methodOptions(method, parsed),
    reference,
    registry: registryFrom(parsed),
    ...(bundlePath === undefined ? {} : { bundlePath: resolve(bundlePath) }),
    ...(str(parsed, 'save-bundle') === undefined
      ? {}
      : { saveBundlePath: resolve(str(parsed, 'save-bundle')!) }),
    force: flag(parsed, 'force'),
    ...(io.signal ? { signal: io.signal } : {}),
  } as unknown as VerifyOciImageOptions;
  const result = await verifyOciImage(options);
  for (const warning of result.warnings)
    io.err(`modelseal: warning: ${safeText(warning.message)}`);
  if (io.audit)
    Object.assign(io.audit, {
      modelName: result.manifest.modelName,
      rootDigest: result.manifest.rootDigest,
      resources: result.manifest.resources.length,
      signer: result.signer,
    });
  if (flag(parsed, 'json')) {
    io.out(
      safeJSONStringify(
        {
          schemaVersion: 1,
          ok: true,
          reference,
          digest: result.digest,
          referrer: result.referrer,
          referrersVia: result.referrersVia,
          method,
          signer: result.signer,
          signingTime: result.signingTime,
          rootDigest: result.manifest.rootDigest,
          layers: result.layers,
          bytesFetched: result.bytesFetched,
          warnings: result.warnings,
        },
        2,
      ),
    );
    return EXIT.OK;
  }
  io.out(
    `verified ${safeText(reference)} (${result.digest}): ${result.layers.length} layers match the signature, ${result.bytesFetched} bytes fetched`,
  );
  io.out(`  signer: ${describeSigner(result.signer)}`);
  if (result.referrer !== undefined)
    io.out(
      `  bundle: referrer ${result.referrer} (found through the ${result.referrersVia === 'api' ? 'referrers API' : 'tag schema'})`,
    );
  io.out(`  root digest: sha256:${result.manifest.rootDigest}`);
  const saved = str(parsed, 'save-bundle');
  if (saved !== undefined)
    io.out(`  bundle saved: ${safeText(resolve(saved))}`);
  return EXIT.OK;
}
