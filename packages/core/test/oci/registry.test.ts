// SPDX-License-Identifier: Apache-2.0
/**
 * The registry round trip of issue 13 against a real registry on loopback:
 * push a ModelPack artifact with a 1 GiB raw weight layer (a sparse file,
 * streamed), sign it by its manifest (kilobytes fetched), find the referrer,
 * verify, refuse a tampered layer and tampered manifests, pull the layers and
 * verify the directory against the same bundle.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import {
  attachBundle,
  FILEPATH_ANNOTATION,
  MODELPACK_ARTIFACT_TYPE,
  MODELPACK_CONFIG,
  MODELPACK_WEIGHT_RAW,
  OCI_MANIFEST,
  pullOciModel,
  RegistryClient,
  parseImageReference,
  sha256Digest,
  signOciImage,
  SIGSTORE_BUNDLE_ARTIFACT_TYPE,
  verifyOciImage,
  type Descriptor,
} from '../../src/oci/index.js';
import { verifyModelSignature } from '../../src/verify/index.js';
import {
  registrySkipReason,
  startRegistry,
  type LocalRegistry,
} from './registry-helper.js';

const skip = registrySkipReason();
if (skip !== undefined) console.log(`skipping OCI registry tests: ${skip}`);

const GIB = 1024 * 1024 * 1024;

async function expectCode(p: Promise<unknown>, code: string): Promise<Error> {
  try {
    await p;
  } catch (error) {
    expect(isModelSealError(error) ? error.code : String(error)).toBe(code);
    return error as Error;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, {
    highWaterMark: 4 * 1024 * 1024,
  }))
    hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

describe.skipIf(skip !== undefined)(
  'OCI registry round trip (docker-registry on loopback)',
  () => {
    let registry: LocalRegistry;
    let work: string;
    let client: RegistryClient;
    let ref: string;
    let manifest: Record<string, unknown>;
    let layers: Descriptor[];
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let privateKey: string;
    let publicKey: string;
    let signaturePath: string;

    async function pushSmall(
      name: string,
      content: string,
      mediaType = 'application/vnd.cncf.model.doc.v1.raw',
    ): Promise<Descriptor> {
      const bytes = Buffer.from(content);
      const digest = sha256Digest(bytes);
      await client.pushBlob(bytes, digest, bytes.length);
      return {
        mediaType,
        digest,
        size: bytes.length,
        annotations: { [FILEPATH_ANNOTATION]: name },
      };
    }

    async function pushManifest(
      tag: string,
      m: Record<string, unknown>,
    ): Promise<string> {
      return client.putManifest(
        tag,
        Buffer.from(JSON.stringify(m)),
        OCI_MANIFEST,
      );
    }

    beforeAll(async () => {
      registry = await startRegistry();
      work = await mkdtemp(join(tmpdir(), 'modelseal-oci-test-'));
      privateKey = join(work, 'key.pem');
      publicKey = join(work, 'key.pub');
      await writeFile(
        privateKey,
        keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      );
      await writeFile(
        publicKey,
        keys.publicKey.export({ type: 'spki', format: 'pem' }),
      );
      signaturePath = join(work, 'model.sig');
      ref = `${registry.host}/models/tiny:v1`;
      client = new RegistryClient(parseImageReference(ref));

      // A 1 GiB sparse weight file, hashed and pushed by streaming.
      const big = join(work, 'model.safetensors');
      await writeFile(big, '');
      await truncate(big, GIB);
      const bigDigest = await sha256File(big);
      await client.pushBlob(
        Readable.toWeb(
          createReadStream(big, { highWaterMark: 4 * 1024 * 1024 }),
        ) as ReadableStream<Uint8Array>,
        bigDigest,
        GIB,
      );
      await rm(big);
      const weight: Descriptor = {
        mediaType: MODELPACK_WEIGHT_RAW,
        digest: bigDigest,
        size: GIB,
        annotations: { [FILEPATH_ANNOTATION]: 'model.safetensors' },
      };
      const cfg = await pushSmall(
        'config.json',
        '{"architectures":["Tiny"]}',
        'application/vnd.cncf.model.weight.config.v1.raw',
      );
      const readme = await pushSmall('docs/README.md', '# tiny\n');
      const config = Buffer.from(
        JSON.stringify({
          descriptor: { name: 'tiny' },
          modelfs: { type: 'layers', diffIds: [] },
        }),
      );
      await client.pushBlob(config, sha256Digest(config), config.length);
      layers = [weight, cfg, readme];
      manifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: MODELPACK_ARTIFACT_TYPE,
        config: {
          mediaType: MODELPACK_CONFIG,
          digest: sha256Digest(config),
          size: config.length,
        },
        layers,
      };
      await pushManifest('v1', manifest);
    }, 240_000);

    afterAll(async () => {
      await registry?.stop();
      if (work !== undefined) await rm(work, { recursive: true, force: true });
    });

    it('signs a 1 GiB model by fetching kilobytes and attaches the bundle as a referrer', async () => {
      const signed = await signOciImage({
        method: 'key',
        privateKey,
        reference: ref,
        signaturePath,
      });
      console.log(
        `sign oci: ${signed.bytesFetched} bytes fetched (the image manifest) to sign a ${GIB + 40}-byte model; ${signed.requests} requests in all, referrer push included`,
      );
      expect(signed.bytesFetched).toBeLessThan(8 * 1024);
      expect(signed.manifest.resources.map((r) => r.name)).toEqual([
        'config.json',
        'docs/README.md',
        'model.safetensors',
      ]);
      expect(signed.manifest.resources[2]!.digest).toBe(
        layers[0]!.digest.slice(7),
      );
      expect(signed.referrer).toMatch(/^sha256:/);
      const { descriptors, via } = await client.referrers(
        signed.digest,
        SIGSTORE_BUNDLE_ARTIFACT_TYPE,
      );
      expect(via).toBe('tag'); // distribution 2.8 has no referrers API
      expect(descriptors.map((d) => d.digest)).toEqual([signed.referrer]);
      const referrer = await client.getManifest(signed.referrer!);
      expect((referrer!.json['subject'] as Descriptor).digest).toBe(
        signed.digest,
      );
      expect(referrer!.json['artifactType']).toBe(
        SIGSTORE_BUNDLE_ARTIFACT_TYPE,
      );
    });

    it('verifies the image against its referrer without pulling a layer', async () => {
      const v = await verifyOciImage({
        method: 'key',
        publicKey,
        reference: ref,
      });
      expect(v.ok).toBe(true);
      expect(v.signer.method).toBe('key');
      console.log(`verify oci: ${v.bytesFetched} bytes fetched`);
      expect(v.bytesFetched).toBeLessThan(16 * 1024);
      // By digest too.
      const byDigest = await verifyOciImage({
        method: 'key',
        publicKey,
        reference: `${registry.host}/models/tiny@${v.digest}`,
      });
      expect(byDigest.digest).toBe(v.digest);
    });

    it('refuses another key', async () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const otherPub = join(work, 'other.pub');
      await writeFile(
        otherPub,
        other.publicKey.export({ type: 'spki', format: 'pem' }),
      );
      await expectCode(
        verifyOciImage({ method: 'key', publicKey: otherPub, reference: ref }),
        'KEY_MISMATCH',
      );
    });

    it('verifies a directory pulled from the image with the same bundle (verify DIR)', async () => {
      const dir = join(work, 'pulled');
      const pulled = await pullOciModel({ reference: ref, directory: dir });
      expect(pulled.bytesFetched).toBeGreaterThan(GIB);
      const v = await verifyModelSignature({
        method: 'key',
        publicKey,
        modelPath: dir,
        bundlePath: signaturePath,
      });
      expect(v.ok).toBe(true);
      expect(v.manifest.resources).toHaveLength(3);
      await rm(dir, { recursive: true });
    }, 120_000);

    it('refuses a tampered layer: no signature for the new manifest, and MANIFEST_MISMATCH when the old bundle is re-attached', async () => {
      const evil = await pushSmall('docs/README.md', '# tiny, but not\n');
      const tampered = { ...manifest, layers: [layers[0], layers[1], evil] };
      const digest = await pushManifest('v1', tampered);
      const e1 = await expectCode(
        verifyOciImage({ method: 'key', publicKey, reference: ref }),
        'SIGNATURE_NOT_FOUND',
      );
      expect(e1.message).toContain(digest);
      // The attacker copies the genuine bundle onto the tampered manifest.
      await attachBundle(
        client,
        {
          mediaType: OCI_MANIFEST,
          digest,
          size: Buffer.byteLength(JSON.stringify(tampered)),
        },
        await readFile(signaturePath),
      );
      const e2 = await expectCode(
        verifyOciImage({ method: 'key', publicKey, reference: ref }),
        'MANIFEST_MISMATCH',
      );
      expect(
        (
          e2 as unknown as { details: { changed: { name: string }[] } }
        ).details.changed.map((c) => c.name),
      ).toEqual(['docs/README.md']);
      await pushManifest('v1', manifest);
    });

    it('refuses a tampered manifest: a renamed file, an added layer, and bytes that do not match the digest', async () => {
      const renamed = {
        ...manifest,
        layers: [
          layers[0],
          layers[1],
          {
            ...layers[2],
            annotations: { [FILEPATH_ANNOTATION]: 'docs/README.txt' },
          },
        ],
      };
      let digest = await pushManifest('v1', renamed);
      await attachBundle(
        client,
        {
          mediaType: OCI_MANIFEST,
          digest,
          size: Buffer.byteLength(JSON.stringify(renamed)),
        },
        await readFile(signaturePath),
      );
      const e = await expectCode(
        verifyOciImage({ method: 'key', publicKey, reference: ref }),
        'MANIFEST_MISMATCH',
      );
      const details = (
        e as unknown as {
          details: { missing: { name: string }[]; extra: { name: string }[] };
        }
      ).details;
      expect(details.missing.map((r) => r.name)).toEqual(['docs/README.md']);
      expect(details.extra.map((r) => r.name)).toEqual(['docs/README.txt']);

      const extra = await pushSmall(
        'run.py',
        'import os\n',
        'application/vnd.cncf.model.code.v1.raw',
      );
      const added = { ...manifest, layers: [...layers, extra] };
      digest = await pushManifest('v1', added);
      await attachBundle(
        client,
        {
          mediaType: OCI_MANIFEST,
          digest,
          size: Buffer.byteLength(JSON.stringify(added)),
        },
        await readFile(signaturePath),
      );
      await expectCode(
        verifyOciImage({ method: 'key', publicKey, reference: ref }),
        'MANIFEST_MISMATCH',
      );

      // The genuine manifest's bytes altered in the registry's storage: served
      // under its digest, they no longer hash to it.
      const good = await pushManifest('v1', manifest);
      const hex = good.slice(7);
      const data = join(
        registry.storage,
        'docker/registry/v2/blobs/sha256',
        hex.slice(0, 2),
        hex,
        'data',
      );
      const original = await readFile(data);
      await writeFile(
        data,
        Buffer.from(
          original.toString('utf8').replace('"config.json"', '"config.jsoN"'),
        ),
      );
      await expectCode(
        verifyOciImage({
          method: 'key',
          publicKey,
          reference: `${registry.host}/models/tiny@${good}`,
        }),
        'DIGEST_MISMATCH',
      );
      await writeFile(data, original);
      const v = await verifyOciImage({
        method: 'key',
        publicKey,
        reference: ref,
      });
      expect(v.digest).toBe(good);
    });
  },
);
