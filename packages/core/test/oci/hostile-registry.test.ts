// SPDX-License-Identifier: Apache-2.0
/**
 * A registry that works against the verifier (docs/oci.md, threat-model.md):
 * the real docker-registry on loopback holds a genuinely signed image, and the
 * attacker either pushes manifests to it (annotations are not signed), alters
 * blobs in its storage, plants links where a pull writes, or answers in its
 * place through a small HTTP server of their own (documents the registry
 * itself refuses to store: an image manifest that is also an index).
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import {
  attachBundle,
  FILEPATH_ANNOTATION,
  MODELPACK_CONFIG,
  MODELPACK_WEIGHT_RAW,
  OCI_INDEX,
  OCI_MANIFEST,
  parseImageReference,
  pullOciModel,
  RegistryClient,
  sha256Digest,
  signOciImage,
  TITLE_ANNOTATION,
  verifyOciImage,
  type Descriptor,
} from '../../src/oci/index.js';
import {
  registrySkipReason,
  startRegistry,
  type LocalRegistry,
} from './registry-helper.js';

const skip = registrySkipReason();

async function failure(p: Promise<unknown>): Promise<{
  code: string;
  message: string;
}> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) throw new Error('expected a failure, it succeeded');
  return {
    code: isModelSealError(error) ? error.code : 'NOT_A_MODELSEAL_ERROR',
    message: (error as Error).message,
  };
}

describe.skipIf(skip !== undefined)(
  'a hostile registry (docker-registry on loopback, and the attacker’s own server)',
  () => {
    let registry: LocalRegistry;
    let work: string;
    let client: RegistryClient;
    let publicKey: string;
    let bundlePath: string;
    let genuine: Record<string, unknown>;
    let weights: Descriptor;
    let config: Descriptor;
    const WEIGHTS = Buffer.from('the signed weights\n');
    const CONFIG = Buffer.from('{"architectures":["Tiny"]}\n');

    async function layer(name: string, bytes: Buffer): Promise<Descriptor> {
      const digest = sha256Digest(bytes);
      await client.pushBlob(bytes, digest, bytes.length);
      return {
        mediaType: MODELPACK_WEIGHT_RAW,
        digest,
        size: bytes.length,
        annotations: { [FILEPATH_ANNOTATION]: name },
      };
    }

    async function push(tag: string, m: Record<string, unknown>) {
      return client.putManifest(
        tag,
        Buffer.from(JSON.stringify(m)),
        OCI_MANIFEST,
      );
    }

    /** The blob's data file in the registry's storage. */
    function storedBlob(digest: string): string {
      const hex = digest.slice('sha256:'.length);
      return join(
        registry.storage,
        'docker/registry/v2/blobs/sha256',
        hex.slice(0, 2),
        hex,
        'data',
      );
    }

    beforeAll(async () => {
      registry = await startRegistry();
      work = await mkdtemp(join(tmpdir(), 'modelseal-hostile-'));
      const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const privateKey = join(work, 'key.pem');
      publicKey = join(work, 'key.pub');
      writeFileSync(
        privateKey,
        keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      );
      writeFileSync(
        publicKey,
        keys.publicKey.export({ type: 'spki', format: 'pem' }),
      );
      client = new RegistryClient(
        parseImageReference(`${registry.host}/models/tiny:v1`),
      );
      weights = await layer('model.safetensors', WEIGHTS);
      config = await layer('config.json', CONFIG);
      const empty = Buffer.from('{}');
      await client.pushBlob(empty, sha256Digest(empty), 2);
      genuine = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: {
          mediaType: MODELPACK_CONFIG,
          digest: sha256Digest(empty),
          size: 2,
        },
        layers: [weights, config],
      };
      await push('v1', genuine);
      bundlePath = join(work, 'tiny.sig');
      await signOciImage({
        method: 'key',
        privateKey,
        reference: `${registry.host}/models/tiny:v1`,
        signaturePath: bundlePath,
      });
    }, 60_000);

    afterAll(async () => {
      await registry?.stop();
      if (work !== undefined) await rm(work, { recursive: true, force: true });
    });

    it('refuses layers whose title names another file than their file path (a puller that reads titles would swap them)', async () => {
      // Annotations are not signed: the attacker adds titles that swap the
      // weights and the config for ORAS and CRI-O, which name files by title,
      // and attaches the genuine bundle to the new manifest.
      const titled = (d: Descriptor, title: string): Descriptor => ({
        ...d,
        annotations: { ...d.annotations, [TITLE_ANNOTATION]: title },
      });
      const swapped = {
        ...genuine,
        layers: [
          titled(weights, 'config.json'),
          titled(config, 'model.safetensors'),
        ],
      };
      const bytes = Buffer.from(JSON.stringify(swapped));
      const digest = await push('swapped', swapped);
      await attachBundle(
        client,
        { mediaType: OCI_MANIFEST, digest, size: bytes.length },
        readFileSync(bundlePath),
      );
      const e = await failure(
        verifyOciImage({
          method: 'key',
          publicKey,
          reference: `${registry.host}/models/tiny:swapped`,
        }),
      );
      expect(e.code).toBe('INVALID_PATH');
      expect(e.message).toContain('models/tiny:swapped');
      expect(e.message).toContain(
        'org.opencontainers.image.title "config.json" differs from the file path "model.safetensors"',
      );
      // The legacy ModelPack annotation (modctl reads it) must agree too.
      const legacy = {
        ...genuine,
        layers: [
          {
            ...weights,
            annotations: {
              ...weights.annotations,
              'org.cnai.model.filepath': 'config.json',
            },
          },
          config,
        ],
      };
      await push('legacy', legacy);
      expect(
        (
          await failure(
            verifyOciImage({
              method: 'key',
              publicKey,
              reference: `${registry.host}/models/tiny:legacy`,
              bundlePath,
            }),
          )
        ).code,
      ).toBe('INVALID_PATH');
      // A title that agrees is fine.
      await push('agrees', {
        ...genuine,
        layers: [titled(weights, 'model.safetensors'), config],
      });
      const v = await verifyOciImage({
        method: 'key',
        publicKey,
        reference: `${registry.host}/models/tiny:agrees`,
        bundlePath,
      });
      expect(v.ok).toBe(true);
    });

    describe('documents docker-registry refuses to store, served by the attacker', () => {
      let server: Server;
      let host: string;
      let answer: { type: string; body: string } = { type: '', body: '' };

      beforeAll(async () => {
        server = createServer((req, res) => {
          if (
            req.url === '/v2/models/tiny/manifests/v1' ||
            req.url?.startsWith('/v2/models/tiny/referrers/') === true
          ) {
            res.writeHead(200, { 'content-type': answer.type });
            res.end(answer.body);
            return;
          }
          res.writeHead(404).end();
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        host = `127.0.0.1:${(server.address() as { port: number }).port}`;
      });
      afterAll(() => new Promise((r) => server.close(r)));

      const verify = (withBundle = true) =>
        verifyOciImage({
          method: 'key',
          publicKey,
          reference: `${host}/models/tiny:v1`,
          ...(withBundle ? { bundlePath } : {}),
        });

      it('the signed image manifest itself verifies from this server', async () => {
        answer = { type: OCI_MANIFEST, body: JSON.stringify(genuine) };
        expect((await verify()).ok).toBe(true);
      });

      it('refuses an image manifest that is also an index (CVE-2021-41190)', async () => {
        const other = `sha256:${'e'.repeat(64)}`;
        answer = {
          type: OCI_MANIFEST,
          body: JSON.stringify({
            ...genuine,
            manifests: [{ mediaType: OCI_MANIFEST, digest: other, size: 9 }],
          }),
        };
        const e = await failure(verify());
        expect(e.code).toBe('DIGEST_MISMATCH');
        expect(e.message).toMatch(/models\/tiny:v1: .*"manifests".*ambiguous/);
      });

      it('refuses a manifest served as an index (Content-Type) whose mediaType says image manifest', async () => {
        answer = { type: OCI_INDEX, body: JSON.stringify(genuine) };
        const e = await failure(verify());
        expect(e.code).toBe('DIGEST_MISMATCH');
        expect(e.message).toContain(
          `serves it as ${OCI_INDEX} but its mediaType is ${OCI_MANIFEST}`,
        );
      });

      it('refuses malformed manifests and referrer lists with a coded one-line error', async () => {
        for (const [body, why] of [
          [{ ...genuine, schemaVersion: 1 }, 'schemaVersion 1'],
          [
            { ...genuine, layers: [{ ...weights, size: -1 }, config] },
            'size -1',
          ],
          [{ ...genuine, layers: [null] }, 'layer 0 is not a descriptor'],
          [null, 'is not a JSON object'],
        ] as const) {
          answer = { type: OCI_MANIFEST, body: JSON.stringify(body) };
          const e = await failure(verify());
          expect(e.code).toBe('DIGEST_MISMATCH');
          expect(e.message).toContain(why);
        }
        // The referrers API answering with something that is not an index.
        const real = { type: OCI_MANIFEST, body: JSON.stringify(genuine) };
        for (const body of ['{not json', '{"manifests":{}}', 'null']) {
          server.removeAllListeners('request');
          server.on('request', (req, res) => {
            const a = req.url!.includes('/referrers/')
              ? { type: OCI_INDEX, body }
              : req.url === '/v2/models/tiny/manifests/v1'
                ? real
                : undefined;
            if (a === undefined) res.writeHead(404).end();
            else res.writeHead(200, { 'content-type': a.type }).end(a.body);
          });
          const e = await failure(verify(false));
          expect(e.code).toBe('DIGEST_MISMATCH');
          expect(e.message).toMatch(/^referrers of sha256:/);
        }
      });
    });

    describe('pullOciModel', () => {
      it('never writes through links planted in the destination', async () => {
        const outside = join(work, 'outside');
        mkdirSync(outside);
        writeFileSync(join(outside, 'victim.txt'), 'victim\n');
        const dest = join(work, 'planted');
        mkdirSync(dest);
        symlinkSync(join(outside, 'victim.txt'), join(dest, 'config.json'));
        const e = await failure(
          pullOciModel({
            reference: `${registry.host}/models/tiny:v1`,
            directory: dest,
          }),
        );
        expect(e.code).toBe('FILE_EXISTS');
        expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe(
          'victim\n',
        );
        // A new directory, or an empty one, gets the image.
        const fresh = join(work, 'fresh');
        mkdirSync(fresh);
        await pullOciModel({
          reference: `${registry.host}/models/tiny:v1`,
          directory: fresh,
        });
        expect(readFileSync(join(fresh, 'model.safetensors'))).toEqual(WEIGHTS);
        expect(readdirSync(work).filter((n) => n.includes('.pull-'))).toEqual(
          [],
        );
      });

      it('leaves nothing behind when a blob does not match its digest or is longer than its size', async () => {
        const data = storedBlob(config.digest);
        const original = readFileSync(data);
        try {
          for (const [bytes, why] of [
            [Buffer.from('{"architectures":["Evil"]}\n'), 'not sha256:'],
            [
              Buffer.alloc(4 * 1024 * 1024, 0x41),
              `more than the ${CONFIG.length} bytes`,
            ],
          ] as const) {
            writeFileSync(data, bytes);
            const dest = join(work, `tampered-${bytes.length}`);
            const e = await failure(
              pullOciModel({
                reference: `${registry.host}/models/tiny:v1`,
                directory: dest,
              }),
            );
            expect(e.code).toBe('DIGEST_MISMATCH');
            expect(e.message).toContain('layer config.json');
            expect(e.message).toContain(why);
            expect(existsSync(dest)).toBe(false);
            expect(
              readdirSync(work).filter((n) => n.includes('.pull-')),
            ).toEqual([]);
          }
        } finally {
          writeFileSync(data, original);
        }
      });
    });
  },
);
