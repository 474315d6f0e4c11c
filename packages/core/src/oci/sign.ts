// SPDX-License-Identifier: Apache-2.0
/**
 * Signing an OCI model image without pulling its weights, and attaching the
 * bundle to it as an OCI referrer (docs/oci.md).
 */
import { BUNDLE_MEDIA_TYPE_V03, OMS_PREDICATE_TYPE } from '../constants.js';
import { ModelSealError } from '../errors.js';
import { encodeStatement } from '../manifest/statement.js';
import type { Manifest } from '../manifest/types.js';
import { serializeBundle, writeBundle } from '../bundle/write.js';
import {
  prepareStatementSigner,
  type StatementSignerOptions,
} from '../sign/sign-model.js';
import type { SignedBy, SignWarning } from '../sign/types.js';
import {
  indexEntries,
  OCI_INDEX,
  OCI_MANIFEST,
  RegistryClient,
  referrersTag,
  sha256Digest,
  type Descriptor,
  type RegistryOptions,
} from './client.js';
import { manifestOfImage, type OciLayerResource } from './modelpack.js';
import {
  formatImageReference,
  parseImageReference,
  type ImageReference,
} from './reference.js';

/** The artifact type of a referrer that carries a Sigstore bundle. */
export const SIGSTORE_BUNDLE_ARTIFACT_TYPE: string = BUNDLE_MEDIA_TYPE_V03;
/** The empty config descriptor of OCI artifacts. */
export const OCI_EMPTY_CONFIG: Descriptor = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest:
    'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};

/** Options of {@link signOciImage}. */
export type SignOciImageOptions = StatementSignerOptions & {
  /** `host[:port]/repository[:tag][@sha256:…]`. */
  reference: string;
  registry?: RegistryOptions;
  /** `subject[0].name`; default the repository's last component. */
  modelName?: string;
  /** Attach the bundle to the image as a referrer. Default true. */
  attach?: boolean;
  /** Also write the bundle to this file. */
  signaturePath?: string;
  force?: boolean;
};

/** What {@link signOciImage} did. */
export interface SignOciImageResult {
  reference: ImageReference;
  /** Digest of the image manifest that was signed (the referrer's subject). */
  digest: string;
  manifest: Manifest;
  layers: OciLayerResource[];
  statement: Buffer;
  bundle: Record<string, unknown>;
  /** Digest of the referrer manifest, when attached. */
  referrer: string | undefined;
  /** Bytes received from the registry (manifests only: never the layers). */
  bytesFetched: number;
  /** HTTP requests made in all: the manifest read, then the pushes of the referrer. */
  requests: number;
  /** Who signed (sigstore: identity known only from the bundle's certificate). */
  signedBy: SignedBy;
  warnings: SignWarning[];
}

/** The descriptor of a fetched manifest, as a subject. */
function subjectOf(bytes: Buffer, mediaType: string): Descriptor {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length };
}

/**
 * Attaches a bundle to a manifest as a referrer: the bundle blob, an empty
 * config, the referrer manifest (artifactType = bundle media type, subject =
 * the manifest), and, when the registry did not say it indexed the subject
 * (no `OCI-Subject` header), an entry in the tag-schema index.
 */
export async function attachBundle(
  client: RegistryClient,
  subject: Descriptor,
  bundleBytes: Buffer,
  annotations: Record<string, string> = {},
): Promise<string> {
  const bundleDigest = sha256Digest(bundleBytes);
  await client.pushBlob(bundleBytes, bundleDigest, bundleBytes.length);
  await client.pushBlob(Buffer.from('{}'), OCI_EMPTY_CONFIG.digest, 2);
  const referrer = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: SIGSTORE_BUNDLE_ARTIFACT_TYPE,
    config: OCI_EMPTY_CONFIG,
    layers: [
      {
        mediaType: SIGSTORE_BUNDLE_ARTIFACT_TYPE,
        digest: bundleDigest,
        size: bundleBytes.length,
      },
    ],
    subject,
    annotations: {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': OMS_PREDICATE_TYPE,
      'org.opencontainers.image.created': new Date().toISOString(),
      ...annotations,
    },
  };
  const bytes = Buffer.from(JSON.stringify(referrer));
  const digest = sha256Digest(bytes);
  const res = await client.request(
    'PUT',
    `${client.base}/manifests/${digest}`,
    {
      headers: { 'content-type': OCI_MANIFEST },
      body: bytes,
      push: true,
    },
  );
  if (res.status !== 201) {
    const text = await res.text().catch(() => '');
    throw new ModelSealError({
      code: 'REGISTRY_ERROR',
      message: `PUT referrer manifest: HTTP ${res.status} ${text.slice(0, 300)}`,
      details: { status: res.status },
    });
  }
  client.bytesSent += bytes.length;
  if (res.headers.get('oci-subject') === null) {
    // Tag schema: add the referrer to the index tagged sha256-<hex>.
    const tag = referrersTag(subject.digest);
    const existing = await client.getManifest(tag);
    const manifests = (
      existing === undefined ? [] : indexEntries(existing.json, `index ${tag}`)
    ).filter((d) => d.digest !== digest);
    manifests.push({
      mediaType: OCI_MANIFEST,
      digest,
      size: bytes.length,
      artifactType: SIGSTORE_BUNDLE_ARTIFACT_TYPE,
      annotations: referrer.annotations,
    });
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }),
    );
    await client.putManifest(tag, index, OCI_INDEX);
  }
  return digest;
}

/**
 * Signs an OCI model image by its manifest: fetches the image manifest (never
 * a layer), builds the OMS manifest from the layer descriptors
 * ({@link manifestFromImage}), signs the statement with the same signers as
 * `signModel`, and attaches the bundle as a referrer of the manifest digest.
 *
 * @throws ModelSealError `INVALID_OPTIONS`, the key and signer codes of
 *   `signModel`, `INVALID_PATH`, `UNSUPPORTED_ALGORITHM`, `EMPTY_MODEL`,
 *   `DIGEST_MISMATCH`, `REGISTRY_ERROR`, `FILE_EXISTS`
 */
export async function signOciImage(
  options: SignOciImageOptions,
): Promise<SignOciImageResult> {
  const ref = parseImageReference(options.reference);
  if (options.signaturePath !== undefined && options.force !== true) {
    const { assertWritable } = await import('../internal/atomic-write.js');
    await assertWritable(options.signaturePath, false);
  }
  // Key material first: a wrong password fails before any network call.
  const prepared = await prepareStatementSigner(options);
  const client = new RegistryClient(ref, options.registry ?? {});
  const fetched = await client.getManifest(ref.digest ?? ref.tag!);
  if (fetched === undefined)
    throw new ModelSealError({
      code: 'REGISTRY_ERROR',
      message: `${formatImageReference(ref)}: no such manifest`,
      details: { status: 404 },
    });
  const modelName = options.modelName ?? ref.repository.split('/').pop()!;
  const { manifest, layers } = manifestOfImage(
    fetched.json,
    fetched.mediaType,
    modelName,
    formatImageReference(ref),
  );
  const statement = encodeStatement(manifest);
  const bundle = await prepared.stamp(await prepared.signer.sign(statement));
  const bytesFetched = client.bytesReceived;
  let referrer: string | undefined;
  if (options.attach !== false) {
    referrer = await attachBundle(
      client,
      subjectOf(fetched.bytes, fetched.mediaType),
      Buffer.from(serializeBundle(bundle)),
    );
  }
  if (options.signaturePath !== undefined)
    await writeBundle(options.signaturePath, bundle, {
      force: options.force ?? false,
    });
  return {
    reference: ref,
    digest: fetched.digest,
    manifest,
    layers,
    statement,
    bundle,
    referrer,
    bytesFetched,
    requests: client.requests,
    signedBy: prepared.signer.signedBy,
    warnings: prepared.warnings,
  };
}
