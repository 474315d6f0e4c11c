// SPDX-License-Identifier: Apache-2.0
/**
 * The OMS manifest of an OCI model image, built from its manifest's layer
 * descriptors alone (docs/oci.md): one resource per layer, named by its
 * `org.cncf.model.filepath` annotation (or `org.opencontainers.image.title`),
 * digest = the layer's sha256. For a raw layer (ModelPack media types ending in
 * `.raw`) that is the file's own sha256, so a directory pulled from the image
 * verifies against the same bundle. For an archive layer (tar, tar+gzip,
 * tar+zstd, or any other type) it is the digest of the blob as stored.
 */
import { isModelSealError, ModelSealError } from '../errors.js';
import { comparePaths } from '../manifest/order.js';
import { computeRootDigest } from '../manifest/root-digest.js';
import { invalidPathReason } from '../manifest/names.js';
import type { Manifest } from '../manifest/types.js';
import { DOCKER_MANIFEST, OCI_MANIFEST, type Descriptor } from './client.js';

export const MODELPACK_ARTIFACT_TYPE =
  'application/vnd.cncf.model.manifest.v1+json';
export const MODELPACK_CONFIG = 'application/vnd.cncf.model.config.v1+json';
export const MODELPACK_WEIGHT_RAW = 'application/vnd.cncf.model.weight.v1.raw';
export const FILEPATH_ANNOTATION = 'org.cncf.model.filepath';
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';
/** The file path annotation of ModelPack before the CNCF rename (modctl still reads it). */
export const LEGACY_FILEPATH_ANNOTATION = 'org.cnai.model.filepath';

/** How a layer was mapped to a resource. */
export interface OciLayerResource {
  name: string;
  mediaType: string;
  digest: string;
  size: number;
  /** `file`: the blob is the file (raw media type); `blob`: the blob as stored (archive or other type). */
  content: 'file' | 'blob';
}

/** True for media types whose blob is the file itself. */
export function isRawLayer(mediaType: string): boolean {
  return /^application\/vnd\.cncf\.model\.[a-z.]+\.v\d+\.raw$/.test(mediaType);
}

function inconsistent(
  message: string,
  details: Record<string, unknown> = {},
): ModelSealError {
  return new ModelSealError({ code: 'INVALID_PATH', message, details });
}

/** The layers of an image manifest, checked. */
export function imageLayers(
  json: Record<string, unknown>,
  mediaType: string,
): Descriptor[] {
  if (mediaType !== OCI_MANIFEST && mediaType !== DOCKER_MANIFEST) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: `the reference names a ${mediaType}, not an image manifest (give the digest of one platform's manifest)`,
      details: { mediaType },
    });
  }
  const malformed = (why: string): ModelSealError =>
    new ModelSealError({
      code: 'DIGEST_MISMATCH',
      message: `the image manifest ${why}`,
    });
  if (json['schemaVersion'] !== 2)
    throw malformed(
      `has schemaVersion ${JSON.stringify(json['schemaVersion'])}, not 2`,
    );
  // An index's field in an image manifest: a client may read it as an index
  // and pull what the signature never covered (CVE-2021-41190).
  if ('manifests' in json)
    throw malformed('also has "manifests" (an index\'s field): ambiguous');
  const layers = json['layers'];
  if (!Array.isArray(layers) || layers.length === 0)
    throw new ModelSealError({
      code: 'EMPTY_MODEL',
      message: 'the image manifest has no layers',
    });
  layers.forEach((d: unknown, i) => {
    if (typeof d !== 'object' || d === null || Array.isArray(d))
      throw malformed(`layer ${i} is not a descriptor`);
    const { size, annotations } = d as Record<string, unknown>;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw malformed(
        `layer ${i} has size ${JSON.stringify(size)}, not a byte count`,
      );
    if (
      annotations !== undefined &&
      (typeof annotations !== 'object' ||
        annotations === null ||
        Array.isArray(annotations))
    )
      throw malformed(`layer ${i} has annotations that are not an object`);
  });
  return layers as Descriptor[];
}

/**
 * Builds the OMS manifest (files serialization, sha256, no ignore paths)
 * from an image manifest's layers.
 *
 * @throws ModelSealError `INVALID_PATH` (no, invalid or duplicate file path),
 *   `UNSUPPORTED_ALGORITHM` (a layer digest that is not sha256), `EMPTY_MODEL`
 */
export function manifestFromImage(
  json: Record<string, unknown>,
  mediaType: string,
  modelName: string,
): { manifest: Manifest; layers: OciLayerResource[] } {
  const layers: OciLayerResource[] = [];
  const names = new Set<string>();
  imageLayers(json, mediaType).forEach((d, i) => {
    const annotations = d.annotations ?? {};
    const name =
      annotations[FILEPATH_ANNOTATION] ?? annotations[TITLE_ANNOTATION];
    if (typeof name !== 'string' || name === '')
      throw inconsistent(
        `layer ${i} (${d.digest}) has no ${FILEPATH_ANNOTATION} annotation`,
        { layer: i },
      );
    // Pullers differ in which annotation names the file (modctl: the
    // ModelPack path, ORAS and CRI-O: the title): all present must agree, or
    // a verified image is written under names the signature never gave.
    for (const key of [TITLE_ANNOTATION, LEGACY_FILEPATH_ANNOTATION]) {
      const other = annotations[key];
      if (other !== undefined && other !== name)
        throw inconsistent(
          `layer ${i} (${d.digest}): ${key} ${JSON.stringify(other)} differs from the file path ${JSON.stringify(name)}`,
          { layer: i, name, annotation: key, value: other },
        );
    }
    const why = name === '.' ? 'not a file path' : invalidPathReason(name);
    if (why !== undefined)
      throw inconsistent(
        `layer ${i} file path ${JSON.stringify(name)}: ${why}`,
        { layer: i, name },
      );
    if (names.has(name))
      throw inconsistent(
        `two layers have the file path ${JSON.stringify(name)}`,
        { name },
      );
    names.add(name);
    const m =
      typeof d.digest === 'string'
        ? /^sha256:([a-f0-9]{64})$/.exec(d.digest)
        : null;
    if (m === null)
      throw new ModelSealError({
        code: 'UNSUPPORTED_ALGORITHM',
        message: `layer ${JSON.stringify(name)} has digest ${String(d.digest)}; only sha256 layers can be signed`,
        details: { name },
      });
    layers.push({
      name,
      mediaType: String(d.mediaType),
      digest: d.digest,
      size: Number(d.size),
      content: isRawLayer(String(d.mediaType)) ? 'file' : 'blob',
    });
  });
  // A path cannot be both a file and a directory (`a` and `a/b`).
  for (const name of names) {
    const parts = name.split('/');
    for (let k = 1; k < parts.length; k++) {
      const prefix = parts.slice(0, k).join('/');
      if (names.has(prefix))
        throw inconsistent(
          `${JSON.stringify(prefix)} is both a file and a directory of ${JSON.stringify(name)}`,
          { name },
        );
    }
  }
  layers.sort((a, b) => comparePaths(a.name, b.name));
  const resources = layers.map((l) => ({
    name: l.name,
    algorithm: 'sha256',
    digest: l.digest.slice('sha256:'.length),
  }));
  return {
    manifest: {
      modelName,
      serialization: {
        method: 'files',
        hashType: 'sha256',
        allowSymlinks: false,
        ignorePaths: [],
        ignorePathsRecorded: true,
      },
      resources,
      rootDigest: computeRootDigest(resources),
    },
    layers,
  };
}

/**
 * {@link manifestFromImage} of a fetched manifest, its errors prefixed with
 * the image reference they are about.
 */
export function manifestOfImage(
  json: Record<string, unknown>,
  mediaType: string,
  modelName: string,
  reference: string,
): { manifest: Manifest; layers: OciLayerResource[] } {
  try {
    return manifestFromImage(json, mediaType, modelName);
  } catch (error) {
    if (!isModelSealError(error)) throw error;
    throw new ModelSealError({
      code: error.code,
      message: `${reference}: ${error.message}`,
      ...(error.details === undefined ? {} : { details: error.details }),
    });
  }
}
