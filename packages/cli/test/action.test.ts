// SPDX-License-Identifier: Apache-2.0
// The GitHub Action's shell steps (scripts/action/*.sh, run by action.yml) in
// a subprocess, as the runner would run them: inputs as INPUT_* variables,
// outputs to $GITHUB_OUTPUT. Keyless signing uses ambient Actions OIDC
// credentials served by a local token endpoint, against the loopback
// Sigstore services of the global setup; verify pins identity and issuer;
// scan writes SARIF relative to the workspace and defers the failure to
// finish.sh (after the upload step).
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mintOIDCToken } from '../../core/test/helpers/sigstore-server.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url)).replace(
  /\/$/,
  '',
);
const SCRIPTS = join(REPO, 'scripts', 'action');
const CLI_VERSION = (
  JSON.parse(readFileSync(join(REPO, 'packages/cli/package.json'), 'utf8')) as {
    version: string;
  }
).version;

const work = realpathSync(mkdtempSync(join(tmpdir(), 'modelseal-action-')));
const ISSUER = 'https://token.actions.githubusercontent.com';
const IDENTITY = 'release-bot@acme.example';

let tokenServer: Server;
let tokenURL = '';
const tokenRequests: string[] = [];
beforeAll(async () => {
  // install=checkout builds a missing dist/ with pnpm (network): the tests run after `pnpm build`.
  for (const built of [
    'packages/cli/dist/main.js',
    'packages/core/dist/index.js',
  ])
    if (!existsSync(join(REPO, built)))
      throw new Error(
        `${built} is missing: run \`pnpm build\` before the CLI tests`,
      );
  tokenServer = createServer((req, res) => {
    tokenRequests.push(`${req.url ?? ''} ${req.headers.authorization ?? ''}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        value: mintOIDCToken({ email: IDENTITY, issuer: ISSUER }),
      }),
    );
  });
  await new Promise<void>((resolve) =>
    tokenServer.listen(0, '127.0.0.1', resolve),
  );
  tokenURL = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token?api-version=2.0`;
});
afterAll(() => {
  tokenServer.close();
  rmSync(work, { recursive: true, force: true });
});

interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
}

let steps = 0;
/** Runs a script of scripts/action as a composite step would. */
function step(
  script: string,
  env: Record<string, string>,
  cwd = work,
): Promise<StepResult> {
  const output = join(work, `github-output-${++steps}`);
  writeFileSync(output, '');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(SCRIPTS, script)], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? work,
        NO_PROXY: '127.0.0.1,localhost',
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_ACTION_PATH: REPO,
        GITHUB_WORKSPACE: cwd,
        GITHUB_OUTPUT: output,
        RUNNER_TEMP: work,
        INPUT_INSTALL: 'checkout',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const outputs: Record<string, string> = {};
      for (const line of readFileSync(output, 'utf8').split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0) outputs[line.slice(0, eq)] = line.slice(eq + 1);
      }
      resolve({ code, stdout, stderr, outputs });
    });
  });
}

function lines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l !== '');
}

// The mock Rekor cannot verify `dsse` entries; the mock Fulcio issues e-mail SANs only.
const services = (): string =>
  `--fulcio-url ${inject('sigstoreURL')} --rekor-url ${inject('sigstoreURL')} --no-tsa --rekor-entry-type intoto`;

describe('scripts/action/cli.sh: which modelseal runs', () => {
  it('checkout: the built CLI of the action; npm: npx pinned to the package version', async () => {
    const checkout = await step('cli.sh', {});
    expect(checkout.code).toBe(0);
    expect(lines(checkout.stdout)).toEqual([
      'node',
      join(REPO, 'packages/cli/bin/modelseal.js'),
    ]);
    const npm = await step('cli.sh', { INPUT_INSTALL: 'npm' });
    // The package has two bins, neither named `cli`: npx is told which one runs.
    expect(lines(npm.stdout)).toEqual([
      'npx',
      '--yes',
      `--package=@modelseal/cli@${CLI_VERSION}`,
      'modelseal',
    ]);
    const pinned = await step('cli.sh', {
      INPUT_INSTALL: 'npm',
      INPUT_VERSION: '1.2.3',
    });
    expect(lines(pinned.stdout)).toContain('--package=@modelseal/cli@1.2.3');
  });

  it('npm: the printed command runs modelseal through real npx (the package from this checkout, offline)', async () => {
    // The words cli.sh prints, with the registry package replaced by this
    // checkout's packages/cli (a directory: npx links it, so nothing is
    // fetched; its bins are the published package's). A fresh npm cache,
    // offline: the run proves which bin npx picks, not what the registry has.
    const npm = await step('cli.sh', { INPUT_INSTALL: 'npm' });
    const spec = `@modelseal/cli@${CLI_VERSION}`;
    const words = lines(npm.stdout).map((w) =>
      w.replace(spec, `file:${join(REPO, 'packages/cli')}`),
    );
    expect(words.join(' ')).toContain('file:');
    const empty = join(work, 'npx-project');
    mkdirSync(empty, { recursive: true });
    const run = await new Promise<{ code: number | null; out: string }>(
      (resolve, reject) => {
        const child = spawn(words[0]!, [...words.slice(1), '--version'], {
          cwd: empty,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: empty,
            npm_config_cache: join(work, 'npx-cache'),
            npm_config_offline: 'true',
            npm_config_update_notifier: 'false',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, out }));
      },
    );
    expect(run.out).not.toMatch(/could not determine executable/);
    expect(run.out.trim()).toBe(CLI_VERSION);
    expect(run.code).toBe(0);
  }, 60_000);

  it('auto: the checkout when the action is the workspace (uses: ./), npm otherwise', async () => {
    const own = await step('cli.sh', { INPUT_INSTALL: 'auto' }, REPO);
    expect(lines(own.stdout)[0]).toBe('node');
    const other = await step('cli.sh', { INPUT_INSTALL: 'auto' }, work);
    expect(lines(other.stdout)[0]).toBe('npx');
  });

  it('refuses a moving version and an unknown install', async () => {
    const latest = await step('cli.sh', {
      INPUT_INSTALL: 'npm',
      INPUT_VERSION: 'latest',
    });
    expect(latest.code).toBe(2);
    expect(latest.stderr).toMatch(/exact version/);
    expect((await step('cli.sh', { INPUT_INSTALL: 'brew' })).code).toBe(2);
  });
});

describe('scripts/action/run.sh: sign and verify keyless with the workflow identity', () => {
  const model = join(work, 'my model');
  mkdirSync(model, { recursive: true });
  writeFileSync(join(model, 'config.json'), '{"layers": 2}');
  writeFileSync(join(model, 'model.safetensors'), Buffer.alloc(64, 1));
  const signature = `${model}.sig`;
  const audit = join(work, 'audit dir', 'audit.jsonl');
  mkdirSync(join(work, 'audit dir'));

  it('sign: ambient ACTIONS_ID_TOKEN_REQUEST_* credentials, default signature beside the model, quoted args', async () => {
    const r = await step('run.sh', {
      INPUT_MODE: 'sign',
      INPUT_MODEL: model,
      INPUT_ATTEST_SCAN: 'true',
      INPUT_ARGS: `${services()} --audit-log '${audit}'`,
      ACTIONS_ID_TOKEN_REQUEST_URL: tokenURL,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token',
    });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.outputs).toEqual({ signature, 'exit-code': '0' });
    expect(existsSync(signature)).toBe(true);
    expect(existsSync(`${model}.scan.sig`)).toBe(true);
    expect(
      tokenRequests.some(
        (t) =>
          t.includes('audience=sigstore') &&
          t.endsWith('Bearer runner-request-token'),
      ),
    ).toBe(true);
    const event = JSON.parse(readFileSync(audit, 'utf8').trim()) as {
      file: { path: string; code_signature: Record<string, unknown> };
    };
    expect(event.file.path).toBe(model);
    expect(event.file.code_signature).toMatchObject({
      exists: true,
      subject_name: IDENTITY,
    });
  });

  it('verify: pinned identity and issuer pass; another identity fails with exit 1', async () => {
    const verify = (env: Record<string, string>) =>
      step('run.sh', {
        INPUT_MODE: 'verify',
        INPUT_MODEL: model,
        INPUT_REQUIRE_SCAN: 'true',
        INPUT_ARGS: `--trusted-root ${inject('sigstoreTrustedRootPath')}`,
        ...env,
      });
    const ok = await verify({ INPUT_IDENTITY: IDENTITY });
    expect(ok.stderr).toMatch(
      /requiring identity release-bot@acme\.example from https:\/\/token\.actions\.githubusercontent\.com/,
    );
    expect(ok.code).toBe(0);
    expect(ok.outputs['exit-code']).toBe('0');
    const regexp = await verify({
      INPUT_IDENTITY_REGEXP: 'release-bot@acme\\.example',
    });
    expect(regexp.code).toBe(0);
    const wrong = await verify({ INPUT_IDENTITY: 'mallory@acme.example' });
    expect(wrong.code).toBe(1);
    expect(wrong.outputs['exit-code']).toBe('1');
    expect(wrong.stderr).toMatch(/IDENTITY_MISMATCH/);
    const wrongIssuer = await verify({
      INPUT_IDENTITY: IDENTITY,
      INPUT_ISSUER: 'https://token.actions.githubusercontent.com.evil',
    });
    expect(wrongIssuer.code).toBe(1);
  });

  it('verify without an identity: this workflow at this ref, or a clear error outside Actions', async () => {
    const own = await step('run.sh', {
      INPUT_MODE: 'verify',
      INPUT_MODEL: model,
      INPUT_ARGS: `--trusted-root ${inject('sigstoreTrustedRootPath')}`,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_WORKFLOW_REF:
        'acme/models/.github/workflows/release.yml@refs/tags/v1',
    });
    expect(own.stderr).toMatch(
      /requiring identity https:\/\/github\.com\/acme\/models\/\.github\/workflows\/release\.yml@refs\/tags\/v1 from/,
    );
    // The loopback Fulcio signs e-mail identities, so this workflow identity does not match.
    expect(own.code).toBe(1);
    const none = await step('run.sh', {
      INPUT_MODE: 'verify',
      INPUT_MODEL: model,
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /::error title=modelseal::verify needs the identity/,
    );
  });

  it('sign refuses fail-on none itself, before modelseal runs (sign has --allow-unsafe instead)', async () => {
    const r = await step('run.sh', {
      INPUT_MODE: 'sign',
      INPUT_MODEL: model,
      INPUT_FAIL_ON: 'none',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /::error title=modelseal::fail-on none applies to mode scan only; to sign despite findings, give --allow-unsafe REASON in args/,
    );
    // Refused by the script itself: modelseal never ran.
    expect(r.stderr).not.toMatch(/modelseal action: |--fail-on must be/);
    expect(r.outputs['exit-code']).toBeUndefined();
  });

  it('refuses an unknown mode or method and unbalanced quotes in args', async () => {
    expect(
      (await step('run.sh', { INPUT_MODE: 'publish', INPUT_MODEL: model }))
        .code,
    ).toBe(2);
    expect(
      (
        await step('run.sh', {
          INPUT_MODE: 'sign',
          INPUT_METHOD: 'gpg',
          INPUT_MODEL: model,
        })
      ).code,
    ).toBe(2);
    const quotes = await step('run.sh', {
      INPUT_MODE: 'scan',
      INPUT_MODEL: model,
      INPUT_ARGS: "--limit 'maxFileMs=1s",
    });
    expect(quotes.code).toBe(2);
    expect(quotes.outputs['exit-code']).toBeUndefined();
  });
});

describe('scripts/action/run.sh + finish.sh: scan for code scanning', () => {
  // protocol 2: GLOBAL os.system, a string argument, REDUCE.
  const evil = Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from(
      'cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.',
      'latin1',
    ),
  ]);
  const workspace = join(work, 'repo');
  mkdirSync(join(workspace, 'models', 'sub'), { recursive: true });
  writeFileSync(join(workspace, 'models', 'sub', 'evil.pkl'), evil);
  writeFileSync(join(workspace, 'models', 'ok.json'), '{"a": 1}');

  it('a subfolder scan: SARIF relative to the repository root; the failure waits for the upload', async () => {
    const r = await step(
      'run.sh',
      { INPUT_MODE: 'scan', INPUT_MODEL: 'models/sub' },
      workspace,
    );
    expect(r.code).toBe(0);
    expect(r.outputs).toEqual({
      'sarif-file': join(work, 'modelseal.sarif'),
      'exit-code': '1',
    });
    expect(r.stderr).toMatch(/fails after the SARIF upload/);
    const sarif = JSON.parse(
      readFileSync(r.outputs['sarif-file']!, 'utf8'),
    ) as {
      runs: {
        results: {
          ruleId: string;
          locations: {
            physicalLocation: {
              artifactLocation: { uri: string; uriBaseId: string };
            };
          }[];
        }[];
      }[];
    };
    const locations = sarif.runs[0]!.results.map(
      (x) => x.locations[0]!.physicalLocation.artifactLocation,
    );
    expect(locations.length).toBeGreaterThan(0);
    expect(locations).toContainEqual({
      uri: 'models/sub/evil.pkl',
      uriBaseId: '%SRCROOT%',
    });
    const finish = await step('finish.sh', { EXIT_CODE: '1' }, workspace);
    expect(finish.code).toBe(1);
    expect(finish.stderr).toMatch(
      /::error title=modelseal::a finding reaches fail-on \(high\)/,
    );
  });

  it('fail-on none passes; finish.sh passes on 0 and fails when the scan never ran', async () => {
    const r = await step(
      'run.sh',
      {
        INPUT_MODE: 'scan',
        INPUT_MODEL: 'models',
        INPUT_FAIL_ON: 'none',
        INPUT_SARIF_FILE: join(work, 'none.sarif'),
      },
      workspace,
    );
    expect(r.outputs['exit-code']).toBe('0');
    expect((await step('finish.sh', { EXIT_CODE: '0' })).code).toBe(0);
    const never = await step('finish.sh', { EXIT_CODE: '' });
    expect(never.code).toBe(2);
  });
});

describe('action.yml', () => {
  const text = readFileSync(join(REPO, 'action.yml'), 'utf8');
  const declared = new Set(
    [...(text.split(/^outputs:/m)[0] ?? '').matchAll(/^ {2}([a-z-]+):$/gm)].map(
      (m) => m[1]!,
    ),
  );

  it('every input it uses is declared; every INPUT_* the scripts read is passed', () => {
    expect(declared.has('mode')).toBe(true);
    const used = [...text.matchAll(/\binputs\.([a-z-]+)/g)].map((m) => m[1]!);
    for (const name of used) expect(declared, name).toContain(name);
    const passed = new Set(
      [
        ...text.matchAll(
          /^ +(INPUT_[A-Z_]+): \$\{\{ inputs\.([a-z-]+) \}\}$/gm,
        ),
      ].map((m) => {
        expect(m[1]).toBe(`INPUT_${m[2]!.toUpperCase().replace(/-/g, '_')}`);
        return m[1]!;
      }),
    );
    for (const script of ['run.sh', 'cli.sh', 'finish.sh']) {
      const source = readFileSync(join(SCRIPTS, script), 'utf8');
      for (const [, name] of source.matchAll(/\$\{(INPUT_[A-Z_]+)/g))
        expect(passed, `${script} reads ${name}`).toContain(name);
    }
  });

  it('a composite action that runs the scripts and uploads SARIF from the scan', () => {
    expect(text).toMatch(/^ {2}using: composite$/m);
    expect(text).toContain('bash "$GITHUB_ACTION_PATH/scripts/action/run.sh"');
    expect(text).toContain(
      'bash "$GITHUB_ACTION_PATH/scripts/action/finish.sh"',
    );
    expect(text).toMatch(/uses: github\/codeql-action\/upload-sarif@v\d+/);
    expect(text).toContain('sarif_file: ${{ steps.run.outputs.sarif-file }}');
    // Inputs reach the shell through the environment only, never spliced into a script.
    for (const [, run] of text.matchAll(/run: (.*)$/gm))
      expect(run).not.toContain('${{');
  });
});
