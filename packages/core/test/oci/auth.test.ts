// SPDX-License-Identifier: Apache-2.0
/**
 * Registry authentication against docker-registry's own token auth
 * (`auth.token`): the registry answers 401 with a Bearer challenge, the
 * client asks the token service of the challenge's realm with the user's
 * basic credentials, and retries with the token. The token service is the
 * test's (every deployment brings its own); the registry checks the token's
 * ES256 signature against the certificate bundle in its config.
 */
import { createSign, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import {
  FILEPATH_ANNOTATION,
  MODELPACK_WEIGHT_RAW,
  OCI_MANIFEST,
  parseImageReference,
  RegistryClient,
  sha256Digest,
  signOciImage,
  verifyOciImage,
} from '../../src/oci/index.js';
import { createPki, newKey, type TestPki } from '../helpers/pki.js';
import {
  registrySkipReason,
  startRegistry,
  type LocalRegistry,
} from './registry-helper.js';

const skip = registrySkipReason();
const USER = 'publisher';
const PASSWORD = randomBytes(12).toString('hex');

describe.skipIf(skip !== undefined)(
  'registry token authentication (docker-registry auth.token)',
  () => {
    let registry: LocalRegistry;
    let pki: TestPki;
    let tokenServer: Server;
    let tokenRequests: {
      authorization: string | undefined;
      scope: string | null;
    }[];
    let ref: string;

    beforeAll(async () => {
      pki = createPki();
      const signer = pki.root;
      const der = Buffer.from(
        readFileSync(signer.certPath, 'utf8').replace(
          /-----[^-]+-----|\s/g,
          '',
        ),
        'base64',
      );
      tokenRequests = [];
      tokenServer = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://x');
        tokenRequests.push({
          authorization: req.headers.authorization,
          scope: url.searchParams.get('scope'),
        });
        const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
        if (req.headers.authorization !== basic) {
          res.writeHead(401).end();
          return;
        }
        const scope = url.searchParams.get('scope') ?? '';
        const [, name, actions] = /^repository:([^:]+):(.+)$/.exec(scope) ?? [];
        const now = Math.floor(Date.now() / 1000);
        const b64 = (o: unknown): string =>
          Buffer.from(JSON.stringify(o)).toString('base64url');
        const header = b64({
          typ: 'JWT',
          alg: 'ES256',
          x5c: [der.toString('base64')],
        });
        const claims = b64({
          iss: 'modelseal-test-issuer',
          sub: USER,
          aud: 'modelseal-test-registry',
          exp: now + 300,
          nbf: now - 10,
          iat: now,
          jti: randomBytes(8).toString('hex'),
          access:
            name === undefined
              ? []
              : [{ type: 'repository', name, actions: actions!.split(',') }],
        });
        const sig = createSign('sha256')
          .update(`${header}.${claims}`)
          .sign({ key: signer.privateKey, dsaEncoding: 'ieee-p1363' })
          .toString('base64url');
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ token: `${header}.${claims}.${sig}` }));
      });
      await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', r));
      const port = (tokenServer.address() as { port: number }).port;
      const bundle = join(pki.dir, 'token-signers.pem');
      writeFileSync(bundle, readFileSync(signer.certPath));
      registry = await startRegistry({
        tokenAuth: {
          realm: `http://127.0.0.1:${port}/token`,
          service: 'modelseal-test-registry',
          issuer: 'modelseal-test-issuer',
          rootCertBundle: bundle,
        },
      });
      ref = `${registry.host}/private/model:1`;
      const client = new RegistryClient(parseImageReference(ref), {
        username: USER,
        password: PASSWORD,
      });
      const bytes = Buffer.from('private weights');
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
            layers: [
              {
                mediaType: MODELPACK_WEIGHT_RAW,
                digest: sha256Digest(bytes),
                size: bytes.length,
                annotations: { [FILEPATH_ANNOTATION]: 'w.bin' },
              },
            ],
          }),
        ),
        OCI_MANIFEST,
      );
    });
    afterAll(async () => {
      await registry?.stop();
      await new Promise((r) => tokenServer?.close(r));
      pki?.cleanup();
    });

    it('signs and verifies with a bearer token obtained with basic credentials', async () => {
      const key = newKey(pki.dir, 'signing', 'P-256');
      const registryOptions = { username: USER, password: PASSWORD };
      const signed = await signOciImage({
        method: 'key',
        privateKey: key.keyPath,
        reference: ref,
        registry: registryOptions,
      });
      expect(signed.referrer).toMatch(/^sha256:/);
      const v = await verifyOciImage({
        method: 'key',
        publicKey: key.publicKeyPath,
        reference: ref,
        registry: registryOptions,
      });
      expect(v.ok).toBe(true);
      // The registry lists the actions in no fixed order (CI saw a run
      // without `pull,push`): either order is the push scope.
      expect(
        tokenRequests.some(
          (r) =>
            r.scope === 'repository:private/model:pull,push' ||
            r.scope === 'repository:private/model:push,pull',
        ),
      ).toBe(true);
      expect(
        tokenRequests.every(
          (r) => r.authorization?.startsWith('Basic ') === true,
        ),
      ).toBe(true);
    });

    it('without credentials: REGISTRY_ERROR (the token service refuses)', async () => {
      const key = newKey(pki.dir, 'other', 'P-256');
      const error = await verifyOciImage({
        method: 'key',
        publicKey: key.publicKeyPath,
        reference: ref,
      }).catch((e: unknown) => e);
      expect(isModelSealError(error) && error.code).toBe('REGISTRY_ERROR');
    });
  },
);
