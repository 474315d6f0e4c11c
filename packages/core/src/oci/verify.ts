// SPDX-License-Identifier: Apache-2.0
/**
 * Verifying an OCI model image against the bundle attached to it as a
 * referrer (docs/oci.md): signature and signer with the same code as
 * `verifyModelSignature`, then every layer of the image manifest against the
 * signed manifest. Nothing but manifests and the bundle is fetched.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import {
  basename,
  dirname,
  isAbsolute,
  join,
  relative,
  resolve,
} from 'node:path';
import { DEFAULT_BUNDLE_LIMITS } from '../bundle/read.js';
import { ModelSealError, isModelSealError } from '../errors.js';
import { assertWritable, writeFileAtomic } from '../internal/atomic-write.js';
import { compareManifests } from '../manifest/compare.js';
import { decodeStatement } from '../manifest/statement.js';
import type { CompareResult, Manifest } from '../manifest/types.js';
import {
  verifyStatementBundle,
  type SignatureOutcome,
} from '../verify/verify-model.js';
import type {
  VerifyCertificateOptions,
  VerifyKeyOptions,
  VerifySigstoreOptions,
  VerifyWarning,
} from '../verify/types.js';
import {
  RegistryClient,
  type Descriptor,
  type RegistryOptions,
} from './client.js';
import { manifestOfImage, type OciLayerResource } from './modelpack.js';
import {
  formatImageReference,
  parseImageReference,
  type ImageReference,
} from './reference.js';
import { SIGSTORE_BUNDLE_ARTIFACT_TYPE } from './sign.js';

type Trust<T> = Omit<
  T,
  | 'modelPath'
  | 'bundlePath'
  | 'ignorePaths'
  | 'ignoreUnsignedFiles'
  | 'allowSymlinks'
  | 'concurrency'
  | 'onProgress'
>;

/** Options of {@link verifyOciImage}. */
export type VerifyOciImageOptions = (
  | Trust<VerifyKeyOptions>
  | Trust<VerifyCertificateOptions>
  | Trust<VerifySigstoreOptions>
) & {
  reference: string;
  registry?: RegistryOptions;
  /** Verify against this bundle file instead of the image's referrers. */
  bundlePath?: string;
  /**
   * After a successful verification, write the bundle that verified here
   * (for `verifyModelSignature` of a directory pulled from the image).
   */
  saveBundlePath?: string;
  /** Overwrite `saveBundlePath`. Default false (`FILE_EXISTS`). */
  force?: boolean;
};

/** What {@link verifyOciImage} proved. */
export interface VerifyOciImageResult {
  ok: true;
  reference: ImageReference;
  digest: string;
  /** The referrer whose bundle verified (undefined with `bundlePath`). */
  referrer: string | undefined;
  /** How referrers were found: the registry's referrers API or the tag schema. */
  referrersVia: 'api' | 'tag' | undefined;
  signer: SignatureOutcome['signer'];
  signingTime: Date | undefined;
  manifest: Manifest;
  layers: OciLayerResource[];
  compare: CompareResult;
  bytesFetched: number;
  /** The bytes of the bundle that verified. */
  bundle: Buffer;
  warnings: VerifyWarning[];
}

function mismatch(
  compare: CompareResult,
  ref: string,
  signer: unknown,
): ModelSealError {
  const parts = [
    compare.missing.length > 0 ? `${compare.missing.length} missing` : '',
    compare.changed.length > 0 ? `${compare.changed.length} changed` : '',
    compare.extra.length > 0 ? `${compare.extra.length} unsigned` : '',
  ].filter(Boolean);
  return new ModelSealError({
    code: 'MANIFEST_MISMATCH',
    message: `image ${ref} does not match its signature: ${parts.join(', ')} (${[
      ...compare.changed,
      ...compare.missing,
      ...compare.extra,
    ]
      .map((r) => r.name)
      .slice(0, 5)
      .join(', ')})`,
    details: {
      missing: compare.missing,
      extra: compare.extra,
      changed: compare.changed,
      signer,
    },
  });
}

async function verifyBundleFile(
  options: VerifyOciImageOptions,
  bundlePath: string,
  image: Manifest,
  refText: string,
): Promise<{
  outcome: SignatureOutcome;
  signed: Manifest;
  compare: CompareResult;
  warnings: VerifyWarning[];
  bytes: Buffer;
}> {
  const { payload, outcome, warnings } = await verifyStatementBundle({
    ...(options as unknown as VerifyKeyOptions),
    modelPath: refText,
    bundlePath,
  });
  const decoded = decodeStatement(payload);
  const compare = compareManifests(decoded.manifest, image);
  if (!compare.ok) throw mismatch(compare, refText, outcome.signer);
  return {
    outcome,
    signed: decoded.manifest,
    compare,
    warnings: [...warnings],
    bytes: await readFile(bundlePath),
  };
}

/** Sort key: newest referrer first (by its creation annotation). */
function created(d: Descriptor): string {
  return d.annotations?.['org.opencontainers.image.created'] ?? '';
}

/**
 * Verifies an OCI model image: resolves the reference to its manifest
 * digest, finds the Sigstore-bundle referrers of that digest (referrers API,
 * else the tag schema), verifies each bundle's signature and signer with the
 * caller's trust, and compares the signed manifest with the one built from
 * the image's layers (every layer digest, every file path). The first bundle
 * that passes wins; when none does, the error of the newest bundle of the
 * requested method is thrown (else the newest one's).
 *
 * @throws ModelSealError `SIGNATURE_NOT_FOUND`, `DIGEST_MISMATCH`,
 *   `MANIFEST_MISMATCH`, the bundle and signer codes of
 *   `verifyModelSignature`, `INVALID_PATH`, `UNSUPPORTED_ALGORITHM`,
 *   `REGISTRY_ERROR`, `INVALID_OPTIONS`
 */
export async function verifyOciImage(
  options: VerifyOciImageOptions,
): Promise<VerifyOciImageResult> {
  const ref = parseImageReference(options.reference);
  const refText = formatImageReference(ref);
  const client = new RegistryClient(ref, {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.registry ?? {}),
  });
  const fetched = await client.getManifest(ref.digest ?? ref.tag!);
  if (fetched === undefined)
    throw new ModelSealError({
      code: 'REGISTRY_ERROR',
      message: `${refText}: no such manifest`,
      details: { status: 404 },
    });
  const { manifest: image, layers } = manifestOfImage(
    fetched.json,
    fetched.mediaType,
    ref.repository.split('/').pop()!,
    refText,
  );
  const result = (
    v: Awaited<ReturnType<typeof verifyBundleFile>>,
    referrer: string | undefined,
    via: 'api' | 'tag' | undefined,
  ): VerifyOciImageResult => ({
    ok: true,
    reference: ref,
    digest: fetched.digest,
    referrer,
    referrersVia: via,
    signer: v.outcome.signer,
    signingTime: v.outcome.signingTime,
    manifest: v.signed,
    layers,
    compare: v.compare,
    bytesFetched: client.bytesReceived,
    bundle: v.bytes,
    warnings: v.warnings,
  });
  const save = async (
    r: VerifyOciImageResult,
  ): Promise<VerifyOciImageResult> => {
    if (options.saveBundlePath !== undefined)
      await writeFileAtomic(options.saveBundlePath, r.bundle, {
        force: options.force ?? false,
      });
    return r;
  };
  if (options.saveBundlePath !== undefined && options.force !== true)
    await assertWritable(options.saveBundlePath, false);
  if (options.bundlePath !== undefined) {
    // Verified from a private copy: what is reported and saved is what verified.
    const dir = await mkdtemp(join(tmpdir(), 'modelseal-oci-'));
    try {
      const copy = join(dir, 'bundle.sig');
      await copyFile(options.bundlePath, copy).catch((error: unknown) => {
        throw new ModelSealError({
          code: 'IO_ERROR',
          message: `${options.bundlePath}: cannot read the bundle: ${(error as Error).message}`,
          cause: error,
          details: { path: options.bundlePath },
        });
      });
      return await save(
        result(
          await verifyBundleFile(options, copy, image, refText),
          undefined,
          undefined,
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  const { descriptors, via } = await client.referrers(
    fetched.digest,
    SIGSTORE_BUNDLE_ARTIFACT_TYPE,
  );
  if (descriptors.length === 0)
    throw new ModelSealError({
      code: 'SIGNATURE_NOT_FOUND',
      message: `no signature is attached to ${refText} (manifest ${fetched.digest})`,
      details: { digest: fetched.digest, via },
    });
  const candidates = [...descriptors]
    .sort((a, b) => created(b).localeCompare(created(a)))
    .slice(0, 16);
  const dir = await mkdtemp(join(tmpdir(), 'modelseal-oci-'));
  const errors: unknown[] = [];
  try {
    for (const d of candidates) {
      try {
        const referrer = await client.getManifest(d.digest);
        const subject = referrer?.json['subject'] as Descriptor | undefined;
        const bundleLayer = (
          referrer?.json['layers'] as Descriptor[] | undefined
        )?.[0];
        if (
          referrer === undefined ||
          subject?.digest !== fetched.digest ||
          bundleLayer === undefined
        )
          throw new ModelSealError({
            code: 'SIGNATURE_NOT_FOUND',
            message: `referrer ${d.digest} is missing or is not about ${fetched.digest}`,
            details: { referrer: d.digest },
          });
        const bytes = await client.getBlob(
          bundleLayer.digest,
          DEFAULT_BUNDLE_LIMITS.maxBytes,
        );
        const file = join(dir, `${bundleLayer.digest.slice(7)}.sig`);
        await writeFile(file, bytes);
        return await save(
          result(
            await verifyBundleFile(options, file, image, refText),
            d.digest,
            via,
          ),
        );
      } catch (error) {
        if (
          !isModelSealError(error) ||
          error.code === 'REGISTRY_ERROR' ||
          error.code === 'ABORTED'
        )
          throw error;
        errors.push(error);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // A bundle of another method says nothing about this one: report a bundle of
  // the requested method when there is one.
  throw (
    errors.find((e) => !isModelSealError(e) || e.code !== 'METHOD_MISMATCH') ??
    errors[0]
  );
}

/** Options of {@link pullOciModel}. */
export interface PullOciModelOptions {
  reference: string;
  /** Directory to write the files to: created, and it must not exist (or be an empty directory). */
  directory: string;
  registry?: RegistryOptions;
}

function pullError(
  code: 'DIGEST_MISMATCH' | 'FILE_EXISTS' | 'IO_ERROR',
  message: string,
  cause?: unknown,
): ModelSealError {
  return new ModelSealError({
    code,
    message,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Writes each layer of an image to `directory/<file path>`, checking each
 * blob against its digest and size as it streams. A convenience for tests
 * and tooling; archive layers are written as stored, not unpacked.
 *
 * The files are written into a new private folder beside `directory` (never
 * through a link: each is created, not opened) and that folder is renamed to
 * `directory` only once every layer matched, so `directory` holds the whole
 * image or nothing: bytes that failed their digest are never left there, and
 * links planted in a shared folder are never written through.
 *
 * @throws ModelSealError `DIGEST_MISMATCH`, `REGISTRY_ERROR`, `INVALID_PATH`,
 *   `FILE_EXISTS` (a `directory` that exists and is not empty), `IO_ERROR`
 */
export async function pullOciModel(options: PullOciModelOptions): Promise<{
  digest: string;
  layers: OciLayerResource[];
  bytesFetched: number;
}> {
  const ref = parseImageReference(options.reference);
  const client = new RegistryClient(ref, options.registry ?? {});
  const fetched = await client.getManifest(ref.digest ?? ref.tag!);
  if (fetched === undefined)
    throw new ModelSealError({
      code: 'REGISTRY_ERROR',
      message: `${formatImageReference(ref)}: no such manifest`,
    });
  const { layers } = manifestOfImage(
    fetched.json,
    fetched.mediaType,
    'pull',
    formatImageReference(ref),
  );
  const directory = resolve(options.directory);
  const taken = await readdir(directory).then(
    (entries) => entries.length > 0,
    (error: { code?: string }) => error.code !== 'ENOENT',
  );
  if (taken)
    throw pullError(
      'FILE_EXISTS',
      `${options.directory}: exists and is not an empty directory; pull writes a new directory`,
    );
  await mkdir(dirname(directory), { recursive: true });
  const staging = await mkdtemp(
    join(dirname(directory), `.${basename(directory)}.pull-`),
  );
  try {
    for (const layer of layers) {
      const target = join(staging, ...layer.name.split('/'));
      const rel = relative(staging, target);
      if (rel.startsWith('..') || isAbsolute(rel))
        throw new ModelSealError({
          code: 'INVALID_PATH',
          message: `layer ${JSON.stringify(layer.name)}: the file path leaves the directory`,
          details: { name: layer.name },
        });
      await mkdir(dirname(target), { recursive: true });
      const hash = createHash('sha256');
      let received = 0;
      await pipeline(
        Readable.from(await client.blobStream(layer.digest)),
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            received += chunk.length;
            if (received > layer.size) {
              cb(
                pullError(
                  'DIGEST_MISMATCH',
                  `layer ${layer.name}: the registry sent more than the ${layer.size} bytes its descriptor declares`,
                ),
              );
              return;
            }
            hash.update(chunk);
            cb(null, chunk);
          },
        }),
        // Created, never opened: an existing name (a case or Unicode
        // collision on this file system) fails instead of being overwritten.
        createWriteStream(target, { flags: 'wx' }),
      ).catch((error: unknown) => {
        if (isModelSealError(error)) throw error;
        throw pullError(
          'IO_ERROR',
          `layer ${layer.name}: cannot write ${target}: ${(error as Error).message}`,
          error,
        );
      });
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== layer.digest || received !== layer.size)
        throw pullError(
          'DIGEST_MISMATCH',
          `layer ${layer.name}: ${actual} (${received} bytes), not ${layer.digest} (${layer.size} bytes)`,
        );
    }
    await chmod(staging, 0o755);
    // Onto a missing or empty directory only (rename(2) refuses a full one).
    await rename(staging, directory).catch((error: unknown) => {
      throw pullError(
        'FILE_EXISTS',
        `${options.directory}: cannot be replaced by the pulled files: ${(error as Error).message}`,
        error,
      );
    });
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return { digest: fetched.digest, layers, bytesFetched: client.bytesReceived };
}
