// SPDX-License-Identifier: Apache-2.0
/**
 * OCI signing with every method signModel has (certificate chain, Sigstore
 * keyless through the loopback Fulcio/Rekor), against docker-registry on
 * loopback; and the layer-to-resource mapping and reference parsing alone.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import {
  FILEPATH_ANNOTATION,
  manifestFromImage,
  MODELPACK_WEIGHT_RAW,
  OCI_INDEX,
  OCI_MANIFEST,
  parseImageReference,
  RegistryClient,
  sha256Digest,
  signOciImage,
  TITLE_ANNOTATION,
  verifyOciImage,
  type Descriptor,
} from '../../src/oci/index.js';
import { createPki, type TestPki } from '../helpers/pki.js';
import { mintOIDCToken } from '../helpers/sigstore-server.js';
import {
  registrySkipReason,
  startRegistry,
  type LocalRegistry,
} from './registry-helper.js';

const HEX = 'a'.repeat(64);
const raw = (
  name: string,
  digest = `sha256:${HEX}`,
  mediaType = MODELPACK_WEIGHT_RAW,
): Descriptor => ({
  mediaType,
  digest,
  size: 1,
  annotations: { [FILEPATH_ANNOTATION]: name },
});
const image = (layers: Descriptor[]): Record<string, unknown> => ({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  layers,
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isModelSealError(error) ? error.code : String(error);
  }
  return undefined;
}

describe('manifestFromImage', () => {
  it('names resources by filepath (title as fallback), digests from the layers, reference order', () => {
    const { manifest, layers } = manifestFromImage(
      image([
        raw('tokenizer.json', `sha256:${'b'.repeat(64)}`),
        raw('tokenizer/vocab.txt', `sha256:${'c'.repeat(64)}`),
        {
          mediaType: 'application/vnd.cncf.model.weight.v1.tar+gzip',
          digest: `sha256:${'d'.repeat(64)}`,
          size: 5,
          annotations: { [TITLE_ANNOTATION]: 'weights.tar.gz' },
        },
      ]),
      OCI_MANIFEST,
      'm',
    );
    expect(manifest.resources.map((r) => r.name)).toEqual([
      'tokenizer/vocab.txt',
      'tokenizer.json',
      'weights.tar.gz',
    ]);
    expect(manifest.resources[1]!.digest).toBe('b'.repeat(64));
    expect(layers.map((l) => l.content)).toEqual(['file', 'file', 'blob']);
    expect(manifest.serialization).toMatchObject({
      method: 'files',
      hashType: 'sha256',
      ignorePaths: [],
    });
  });

  it('refuses layers that cannot be files, other digests and image indexes', () => {
    expect(
      codeOf(() =>
        manifestFromImage(
          image([{ ...raw('x'), annotations: {} }]),
          OCI_MANIFEST,
          'm',
        ),
      ),
    ).toBe('INVALID_PATH');
    for (const bad of ['../x', '/etc/passwd', '.', 'a/../b'])
      expect(
        codeOf(() => manifestFromImage(image([raw(bad)]), OCI_MANIFEST, 'm')),
      ).toBe('INVALID_PATH');
    expect(
      codeOf(() =>
        manifestFromImage(image([raw('a'), raw('a')]), OCI_MANIFEST, 'm'),
      ),
    ).toBe('INVALID_PATH');
    expect(
      codeOf(() =>
        manifestFromImage(image([raw('a'), raw('a/b')]), OCI_MANIFEST, 'm'),
      ),
    ).toBe('INVALID_PATH');
    expect(
      codeOf(() =>
        manifestFromImage(
          image([raw('a', `sha512:${'a'.repeat(128)}`)]),
          OCI_MANIFEST,
          'm',
        ),
      ),
    ).toBe('UNSUPPORTED_ALGORITHM');
    expect(codeOf(() => manifestFromImage(image([]), OCI_MANIFEST, 'm'))).toBe(
      'EMPTY_MODEL',
    );
    expect(
      codeOf(() => manifestFromImage({ manifests: [] }, OCI_INDEX, 'm')),
    ).toBe('INVALID_OPTIONS');
  });
});

describe('parseImageReference', () => {
  it('parses host, repository, tag and digest; the host is explicit', () => {
    expect(parseImageReference('127.0.0.1:5000/org/m')).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'org/m',
      tag: 'latest',
      digest: undefined,
    });
    expect(parseImageReference(`reg.example/m:v1@sha256:${HEX}`)).toMatchObject(
      { tag: 'v1', digest: `sha256:${HEX}` },
    );
    for (const bad of [
      'library/ubuntu',
      'ubuntu',
      'reg.example/Upper',
      `reg.example/m@sha256:${'a'.repeat(63)}`,
      'reg.example/m:bad tag',
    ])
      expect(codeOf(() => parseImageReference(bad))).toBe('INVALID_OPTIONS');
  });
});

const skip = registrySkipReason();
describe.skipIf(skip !== undefined)(
  'sign oci / verify oci with certificates and Sigstore',
  () => {
    let registry: LocalRegistry;
    let pki: TestPki;
    let ref: string;

    beforeAll(async () => {
      registry = await startRegistry();
      pki = createPki();
      ref = `${registry.host}/acme/small:1`;
      const client = new RegistryClient(parseImageReference(ref));
      const bytes = Buffer.from('weights');
      await client.pushBlob(bytes, sha256Digest(bytes), bytes.length);
      const config = Buffer.from('{}');
      await client.pushBlob(config, sha256Digest(config), 2);
      await client.putManifest(
        '1',
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            config: {
              mediaType: 'application/vnd.cncf.model.config.v1+json',
              digest: sha256Digest(config),
              size: 2,
            },
            layers: [raw('model.bin', sha256Digest(bytes))],
          }),
        ),
        OCI_MANIFEST,
      );
    });
    afterAll(async () => {
      await registry?.stop();
      pki?.cleanup();
    });

    it('certificate: signs with the leaf and chain, verifies against the root', async () => {
      await signOciImage({
        method: 'certificate',
        reference: ref,
        privateKey: pki.leaf.keyPath,
        signingCertificate: pki.leaf.certPath,
        certificateChain: [pki.intermediate.certPath],
      });
      const v = await verifyOciImage({
        method: 'certificate',
        reference: ref,
        trustAnchors: [pki.root.certPath],
      });
      expect(v.signer.method).toBe('certificate');
      const other = createPki();
      try {
        const error = await verifyOciImage({
          method: 'certificate',
          reference: ref,
          trustAnchors: [other.root.certPath],
        }).catch((e: unknown) => e);
        expect(isModelSealError(error) && error.code).toBe(
          'CERTIFICATE_INVALID',
        );
      } finally {
        other.cleanup();
      }
    });

    it('sigstore: keyless through the loopback Fulcio and Rekor; the newest matching referrer wins', async () => {
      const url = inject('sigstoreURL');
      const signed = await signOciImage({
        method: 'sigstore',
        reference: ref,
        identityToken: mintOIDCToken(),
        fulcioURL: url,
        rekorURL: url,
        tsaURL: null,
        rekorEntryType: 'intoto', // what the mock Rekor records
        retries: 0,
      });
      const v = await verifyOciImage({
        method: 'sigstore',
        reference: ref,
        identity: inject('sigstoreIdentity'),
        issuer: inject('sigstoreOIDCIssuer'),
        trustedRootJSON: JSON.parse(inject('sigstoreTrustedRoot')) as unknown,
      });
      expect(v.signer).toMatchObject({
        method: 'sigstore',
        identity: inject('sigstoreIdentity'),
      });
      expect(v.referrer).toBe(signed.referrer);
      // The certificate bundle is also attached; a wrong identity refuses both.
      const error = await verifyOciImage({
        method: 'sigstore',
        reference: ref,
        identity: 'someone@else.test',
        issuer: inject('sigstoreOIDCIssuer'),
        trustedRootJSON: JSON.parse(inject('sigstoreTrustedRoot')) as unknown,
      }).catch((e: unknown) => e);
      expect(isModelSealError(error) && error.code).toBe('IDENTITY_MISMATCH');
    });
  },
);
