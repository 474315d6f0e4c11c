// SPDX-License-Identifier: Apache-2.0
/**
 * A real OCI registry on loopback for tests: the `docker-registry` binary
 * (Debian package, CNCF distribution 2.8) started with a temporary config,
 * filesystem storage in a temporary directory, delete enabled.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LocalRegistry {
  host: string;
  storage: string;
  stop(): Promise<void>;
}

/** Why the registry cannot run here, or undefined when it can. */
export function registrySkipReason(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v docker-registry'], {
    encoding: 'utf8',
  });
  return r.status === 0
    ? undefined
    : 'docker-registry is not installed (apt-get install docker-registry; scripts/setup.sh does it as root)';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Token authentication (distribution's `auth.token`): the realm, service, issuer and the certificate that signs tokens. */
export interface RegistryTokenAuth {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
}

export async function startRegistry(
  options: { tokenAuth?: RegistryTokenAuth } = {},
): Promise<LocalRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'modelseal-registry-'));
  const storage = join(dir, 'storage');
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storage}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(options.tokenAuth === undefined
        ? []
        : [
            'auth:',
            '  token:',
            `    realm: ${options.tokenAuth.realm}`,
            `    service: ${options.tokenAuth.service}`,
            `    issuer: ${options.tokenAuth.issuer}`,
            `    rootcertbundle: ${options.tokenAuth.rootCertBundle}`,
          ]),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      if (
        res.status === 200 ||
        (options.tokenAuth !== undefined && res.status === 401)
      )
        break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    storage,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
