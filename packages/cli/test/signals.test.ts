// SPDX-License-Identifier: Apache-2.0
// Ctrl-C and killed writers, with real subprocesses: SIGINT at the password
// prompt (in a pseudo-terminal, through util-linux `script`), SIGINT while a
// large sparse file is hashed, and the temporary file a SIGKILLed writer
// leaves behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-cli-signals-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const { privateKey } = generateKeyPairSync('ed25519');
const keyFile = join(work, 'key.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
const encrypted = join(work, 'enc.pem');
writeFileSync(
  encrypted,
  privateKey.export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase: 'pw',
  }),
);

function smallModel(name: string): string {
  const root = join(work, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'config.json'), '{}');
  writeFileSync(join(root, 'weights.bin'), Buffer.alloc(4096, 7));
  return root;
}

/** Collects a child's output and resolves with its exit code when it ends. */
function collect(child: ChildProcess): {
  output: () => string;
  exit: Promise<number | null>;
  waitFor: (text: string, ms?: number) => Promise<void>;
} {
  let output = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const onData = (d: Buffer): void => {
    output += d.toString();
    for (const w of waiters.filter((w) => output.includes(w.text))) w.resolve();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exit = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  return {
    output: () => output,
    exit,
    waitFor: (text, ms = 20_000) =>
      new Promise<void>((resolve, reject) => {
        if (output.includes(text)) return resolve();
        const timer = setTimeout(
          () => reject(new Error(`no ${JSON.stringify(text)} in: ${output}`)),
          ms,
        );
        waiters.push({
          text,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      }),
  };
}

const hasScript =
  spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

/** Output a person would not want after Ctrl-C. */
function expectNoLitter(output: string): void {
  expect(output).not.toMatch(/unsettled top-level await/i);
  expect(output).not.toMatch(/^\s+at /m); // a stack frame
  expect(output).not.toMatch(/\[ABORTED\]|internal error/);
  expect(output.match(/modelseal: interrupted/g)).toHaveLength(1);
}

describe('SIGINT', () => {
  it.skipIf(!hasScript)(
    'Ctrl-C at the password prompt (a pseudo-terminal) exits 130 with one line',
    async () => {
      const model = smallModel('prompt');
      const sig = join(work, 'prompt.sig');
      const command = [
        process.execPath,
        CLI,
        'sign',
        'key',
        model,
        '--private-key',
        encrypted,
        '--signature',
        sig,
      ]
        .map((a) => `'${a}'`)
        .join(' ');
      // script gives the command a terminal; what we write to its stdin is typed there.
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, CI: '', TERM: 'dumb' },
      });
      const run = collect(child);
      await run.waitFor('password for');
      child.stdin.write('\x03'); // Ctrl-C, as the terminal sends it
      const code = await run.exit;
      // script exits with the command's status (-e).
      expect(code).toBe(130);
      expectNoLitter(run.output());
      expect(run.output()).not.toContain('pw');
      expect(existsSync(sig)).toBe(false);
    },
    30_000,
  );

  it.skipIf(!hasScript)(
    'the password typed at the prompt signs (the prompt is really there)',
    async () => {
      const model = smallModel('prompt-ok');
      const sig = join(work, 'prompt-ok.sig');
      const command = [
        process.execPath,
        CLI,
        'sign',
        'key',
        model,
        '--private-key',
        encrypted,
        '--signature',
        sig,
        '-q',
      ]
        .map((a) => `'${a}'`)
        .join(' ');
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, CI: '', TERM: 'dumb' },
      });
      const run = collect(child);
      await run.waitFor('password for');
      child.stdin.write('pw\r');
      expect(await run.exit).toBe(0);
      expect(readFileSync(sig, 'utf8')).toContain('dsseEnvelope');
    },
    30_000,
  );

  it('SIGINT while a large sparse file is hashed exits 130, writes nothing, leaves no temporary file', async () => {
    const model = join(work, 'large');
    mkdirSync(model);
    writeFileSync(join(model, 'config.json'), '{}');
    // 64 GiB of holes: hashing reads zeros for minutes, so the signal lands mid-hash.
    writeFileSync(join(model, 'weights.bin'), '');
    truncateSync(join(model, 'weights.bin'), 64 * 2 ** 30);
    const sig = join(work, 'large.sig');
    const child = spawn(
      process.execPath,
      [
        CLI,
        'sign',
        'key',
        model,
        '--private-key',
        keyFile,
        '--signature',
        sig,
        '--progress',
        'plain',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } },
    );
    const run = collect(child);
    await run.waitFor('hashing 2 files');
    const before = Date.now();
    child.kill('SIGINT');
    const code = await run.exit;
    expect(code).toBe(130);
    expect(Date.now() - before).toBeLessThan(10_000);
    expectNoLitter(run.output());
    expect(run.output().trimEnd().split('\n').at(-1)).toBe(
      'modelseal: interrupted',
    );
    expect(existsSync(sig)).toBe(false);
    expect(readdirSync(work).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 60_000);
});

describe('temporary files of a killed writer', () => {
  it('a SIGKILLed writer’s temporary file neither blocks nor stays after the next write', async () => {
    const model = smallModel('stale');
    // The bundle inside the model: a stale temporary file there would be signed as a model file.
    const sig = join(model, 'model.sig');
    // A real writer, killed with SIGKILL after it created its temporary file.
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const tmp = ${JSON.stringify(join(model, '.model.sig.'))} + process.pid + '.0123456789ab.tmp';
         fs.writeFileSync(tmp, '{"half":');
         process.stdout.write('written\\n');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await collect(writer).waitFor('written');
    const killed = new Promise((resolve) => writer.on('close', resolve));
    writer.kill('SIGKILL');
    await killed;
    const left = readdirSync(model).filter((n) => n.endsWith('.tmp'));
    expect(left).toHaveLength(1);
    // One of an older version (no pid in its name), two minutes old.
    const legacy = join(model, '.model.sig.abcdef012345.tmp');
    writeFileSync(legacy, 'old');
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(legacy, old, old);
    const sign = (signature: string, ...extra: string[]) =>
      runCli([
        'sign',
        'key',
        model,
        '--private-key',
        keyFile,
        '--signature',
        signature,
        '--json',
        ...extra,
      ]);
    const r = await sign(sig);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(model).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    // Removed before hashing: nothing of the killed writer was signed as a model file.
    expect(JSON.parse(r.stdout).resources).toBe(2);

    // A writer still running (this test's process) keeps its file.
    const outside = join(work, 'outside.sig');
    const live = join(work, `.outside.sig.${process.pid}.fedcba987654.tmp`);
    writeFileSync(live, 'in progress');
    const again = await sign(outside);
    expect(again.code).toBe(0);
    expect(existsSync(live)).toBe(true);
  }, 30_000);
});
