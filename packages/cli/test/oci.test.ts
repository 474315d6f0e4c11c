// SPDX-License-Identifier: Apache-2.0
// modelseal sign oci / verify oci (issue 13 item 1) through the real CLI,
// against a real registry on loopback (docker-registry, own temporary config).
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FILEPATH_ANNOTATION,
  MODELPACK_ARTIFACT_TYPE,
  MODELPACK_CONFIG,
  OCI_MANIFEST,
  parseImageReference,
  pullOciModel,
  RegistryClient,
  sha256Digest,
  type Descriptor,
} from '../../core/src/oci/index.js';
import {
  registrySkipReason,
  startRegistry,
  type LocalRegistry,
} from '../../core/test/oci/registry-helper.js';
import { CLI, runCli } from './helpers/run-cli.js';

const skip = registrySkipReason();
if (skip !== undefined)
  console.log(`skipping modelseal oci CLI tests: ${skip}`);

it('loads no OCI module for the other commands (a load hook on the real CLI)', () => {
  const work = mkdtempSync(join(tmpdir(), 'modelseal-cli-oci-hook-'));
  try {
    const hook = join(work, 'hook.mjs');
    writeFileSync(
      hook,
      [
        "import { registerHooks } from 'node:module';",
        'const seen = [];',
        'registerHooks({ load(url, context, next) { if (/\\/oci(\\/|\\.js)/.test(url)) seen.push(url); return next(url, context); } });',
        "process.on('exit', () => process.stdout.write(`\\nOCI ${JSON.stringify(seen)}\\n`));",
      ].join('\n'),
    );
    const run = (args: string[]): string[] => {
      let out: string;
      try {
        out = execFileSync(process.execPath, ['--import', hook, CLI, ...args], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        });
      } catch (error) {
        out = (error as { stdout: string }).stdout;
      }
      const line = out.split('\n').find((l) => l.startsWith('OCI '));
      return JSON.parse(line!.slice(4)) as string[];
    };
    expect(
      run(['verify', 'key', work, '--public-key', join(work, 'none.pem')]),
    ).toEqual([]);
    expect(
      run(['sign', 'key', work, '--private-key', join(work, 'none.pem')]),
    ).toEqual([]);
    // Control: the oci subcommand does load it.
    expect(
      run([
        'verify',
        'oci',
        'key',
        '127.0.0.1:1/a/b',
        '--public-key',
        join(work, 'none.pem'),
      ]).length,
    ).toBeGreaterThan(0);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

describe.skipIf(skip !== undefined)('modelseal sign oci / verify oci', () => {
  let registry: LocalRegistry;
  let client: RegistryClient;
  let ref: string;
  let manifest: Record<string, unknown>;
  let layers: Descriptor[];
  const work = mkdtempSync(join(tmpdir(), 'modelseal-cli-oci-'));
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const keyFile = join(work, 'key.pem');
  const pubFile = join(work, 'pub.pem');
  const sig = join(work, 'model.sig');
  const fromRegistry = join(work, 'from-registry.sig');
  writeFileSync(
    keyFile,
    keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  writeFileSync(
    pubFile,
    keys.publicKey.export({ type: 'spki', format: 'pem' }),
  );

  async function layer(
    name: string,
    content: string,
    mediaType: string,
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

  beforeAll(async () => {
    registry = await startRegistry();
    ref = `${registry.host}/org/tiny-model:1.0`;
    client = new RegistryClient(parseImageReference(ref));
    layers = [
      await layer(
        'model.safetensors',
        'weights'.repeat(1000),
        'application/vnd.cncf.model.weight.v1.raw',
      ),
      await layer(
        'tokenizer/tokenizer.json',
        '{"version":"1.0"}',
        'application/vnd.cncf.model.weight.config.v1.raw',
      ),
    ];
    const config = Buffer.from('{"descriptor":{"name":"tiny-model"}}');
    await client.pushBlob(config, sha256Digest(config), config.length);
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
    await client.putManifest(
      '1.0',
      Buffer.from(JSON.stringify(manifest)),
      OCI_MANIFEST,
    );
  });

  afterAll(async () => {
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('signs, attaches, verifies, and verifies the pulled directory with the same bundle', async () => {
    const signed = await runCli([
      'sign',
      'oci',
      'key',
      ref,
      '--private-key',
      keyFile,
      '--signature',
      sig,
      '--json',
    ]);
    expect(signed.stderr).toBe('');
    expect(signed.code).toBe(0);
    const out = JSON.parse(signed.stdout) as {
      referrer: string;
      digest: string;
      bytesFetched: number;
      layers: unknown[];
    };
    expect(out.referrer).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(out.layers).toHaveLength(2);
    expect(out.bytesFetched).toBeLessThan(4096);

    const verified = await runCli([
      'verify',
      'oci',
      'key',
      ref,
      '--public-key',
      pubFile,
      '--save-bundle',
      fromRegistry,
    ]);
    expect(verified.code).toBe(0);
    // The bundle attached to the image is the one sign wrote.
    expect(readFileSync(fromRegistry, 'utf8')).toBe(readFileSync(sig, 'utf8'));
    expect(verified.stdout).toContain(
      `verified ${ref} (${out.digest}): 2 layers match`,
    );
    expect(verified.stdout).toContain(
      `referrer ${out.referrer} (found through the tag schema)`,
    );

    const dir = join(work, 'pulled');
    await pullOciModel({ reference: ref, directory: dir });
    const dirVerify = await runCli([
      'verify',
      'key',
      dir,
      '--public-key',
      pubFile,
      '--signature',
      fromRegistry,
    ]);
    expect(dirVerify.stderr).toBe('');
    expect(dirVerify.code).toBe(0);
    writeFileSync(join(dir, 'model.safetensors'), 'tampered');
    const dirTampered = await runCli([
      'verify',
      'key',
      dir,
      '--public-key',
      pubFile,
      '--signature',
      sig,
      '--json',
    ]);
    expect(dirTampered.code).toBe(1);
    expect(JSON.parse(dirTampered.stdout).error.code).toBe('MANIFEST_MISMATCH');
  });

  it('refuses a re-tagged image with a changed layer (exit 1, SIGNATURE_NOT_FOUND), also with the bundle given', async () => {
    const evil = await layer(
      'model.safetensors',
      'backdoor',
      'application/vnd.cncf.model.weight.v1.raw',
    );
    await client.putManifest(
      '1.0',
      Buffer.from(JSON.stringify({ ...manifest, layers: [evil, layers[1]] })),
      OCI_MANIFEST,
    );
    const r = await runCli([
      'verify',
      'oci',
      'key',
      ref,
      '--public-key',
      pubFile,
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('SIGNATURE_NOT_FOUND');
    const withBundle = await runCli([
      'verify',
      'oci',
      'key',
      ref,
      '--public-key',
      pubFile,
      '--signature',
      sig,
      '--json',
    ]);
    expect(withBundle.code).toBe(1);
    const error = JSON.parse(withBundle.stdout).error as {
      code: string;
      details: { changed: { name: string }[] };
    };
    expect(error.code).toBe('MANIFEST_MISMATCH');
    expect(error.details.changed.map((c) => c.name)).toEqual([
      'model.safetensors',
    ]);
  });

  it('refuses usage errors and an unreachable registry with their exit codes', async () => {
    const usage = await runCli([
      'verify',
      'oci',
      'key',
      'no-registry-host',
      '--public-key',
      pubFile,
    ]);
    expect(usage.code).toBe(2);
    const down = await runCli([
      'verify',
      'oci',
      'key',
      '127.0.0.1:1/x/y:1',
      '--public-key',
      pubFile,
      '--json',
    ]);
    expect(down.code).toBe(3);
    expect(JSON.parse(down.stdout).error.code).toBe('REGISTRY_ERROR');
  });
});
