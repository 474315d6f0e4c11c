// SPDX-License-Identifier: Apache-2.0
// Text from artifacts and bundles never reaches the terminal raw: a pickle
// global name, a file name or a key hint holding a carriage return, an ANSI
// erase or a right-to-left override is printed escaped, in every command, on
// stdout and stderr. JSON output parses to the exact values.
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyPairFiles, keySignArgs } from './helpers/fixtures.js';
import type { Io } from '../src/io.js';
import { main } from '../src/main.js';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-safe-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// What an attacker puts in a name: return to the start of the line, erase it,
// move up one line, and reverse what follows.
const HOSTILE = 'system\r\x1b[2K\x1b[1A\u202eOK clean';
const ESCAPED = 'system\\r\\x1b[2K\\x1b[1A\\u202eOK clean';

/** Bytes of the artifact that must never reach the terminal. */
function expectNoRawControls(text: string): void {
  for (const ch of ['\x1b', '\r', '\u202e', '\u009b'])
    expect(text, `raw ${JSON.stringify(ch)} in output`).not.toContain(ch);
}

function binunicode(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length);
  return Buffer.concat([Buffer.from([0x58]), len, b]);
}

/** A protocol 4 pickle calling os.<HOSTILE>('id') (STACK_GLOBAL, TUPLE1, REDUCE). */
function hostilePickle(): Buffer {
  return Buffer.concat([
    Buffer.from([0x80, 0x04]),
    binunicode('os'),
    binunicode(HOSTILE),
    Buffer.from([0x93]),
    binunicode('id'),
    Buffer.from([0x85, 0x52, 0x2e]),
  ]);
}

const { key, pub } = keyPairFiles(work);

/** An Io that keeps lines as the commands built them (no last-line guard of processIo). */
function capture(): Io & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    out: (line) => void lines.push(line),
    err: (line) => void lines.push(line),
  };
}

describe('safe text output', () => {
  it('each command escapes the strings it prints itself, before the process guard', async () => {
    const dir = join(work, 'inproc');
    mkdirSync(dir);
    writeFileSync(join(dir, 'evil.pkl'), hostilePickle());
    const scan = capture();
    expect(await main(['scan', dir], scan)).toBe(1);
    expectNoRawControls(scan.lines.join('\n'));
    expect(scan.lines.join('\n')).toContain(ESCAPED);

    const model = join(work, 'inproc-model');
    mkdirSync(model);
    writeFileSync(join(model, 'a\x1b[2K\u202eb'), 'w');
    const sig = join(work, 'inproc.sig');
    const sign = capture();
    expect(
      await main(
        ['sign', 'key', model, '--private-key', key, '--signature', sig, '-q'],
        sign,
      ),
    ).toBe(0);
    writeFileSync(join(model, 'c\r\u009bd'), 'x');
    for (const argv of [
      ['inspect', sig],
      ['verify', 'key', model, '--public-key', pub, '--signature', sig, '-q'],
      ['diff', sig, model, '-q'],
      [
        'verify',
        'key',
        model,
        '--public-key',
        pub,
        '--signature',
        sig,
        '--json',
      ],
    ]) {
      const io = capture();
      await main(argv, io);
      const text = io.lines.join('\n');
      expectNoRawControls(text);
      expect(text).toMatch(/a\\x1b\[2K\\u202eb|c\\r\\x9bd|c\\r\\u009bd/);
    }
  });

  it('scan: a global name with CR, ANSI erase and RLO cannot erase or disguise the CRITICAL line', async () => {
    const dir = join(work, 'scan');
    mkdirSync(dir);
    writeFileSync(join(dir, 'evil.pkl'), hostilePickle());
    const text = await runCli(['scan', dir]);
    expect(text.code).toBe(1);
    expectNoRawControls(text.stdout);
    expectNoRawControls(text.stderr);
    const critical = text.stdout
      .split('\n')
      .find((l) => l.startsWith('CRITICAL '));
    expect(critical).toBeDefined();
    expect(critical).toContain('PICKLE_DANGEROUS_GLOBAL');
    expect(critical).toContain(ESCAPED);

    // JSON: the exact value survives, the text carries no raw control either.
    const json = await runCli(['scan', dir, '--format', 'json']);
    expectNoRawControls(json.stdout);
    const report = JSON.parse(json.stdout) as {
      files: { findings: { ruleId: string; message: string }[] }[];
    };
    const finding = report.files[0]!.findings.find(
      (f) => f.ruleId === 'PICKLE_DANGEROUS_GLOBAL',
    )!;
    expect(finding.message).toContain(HOSTILE);

    // SARIF: message text for people is escaped, and the log parses.
    const sarif = await runCli(['scan', dir, '--format', 'sarif']);
    expectNoRawControls(sarif.stdout);
    const log = JSON.parse(sarif.stdout) as {
      runs: { results: { ruleId: string; message: { text: string } }[] }[];
    };
    const result = log.runs[0]!.results.find(
      (r) => r.ruleId === 'PICKLE_DANGEROUS_GLOBAL',
    )!;
    expect(result.message.text).toContain(ESCAPED);
  });

  it('sign, inspect, verify, diff and digest: resource names from files and bundles are escaped', async () => {
    const model = join(work, 'model');
    mkdirSync(model);
    const signedName = 'ok\r\x1b[2Kevil\u202egp.bin';
    writeFileSync(join(model, signedName), 'weights');
    writeFileSync(join(model, 'config.json'), '{}');
    const sig = join(work, 'model.sig');
    const signed = await runCli(keySignArgs(model, key, sig));
    expect(signed.code).toBe(0);
    expectNoRawControls(signed.stdout);
    expectNoRawControls(signed.stderr);

    const inspect = await runCli(['inspect', sig]);
    expect(inspect.code).toBe(0);
    expectNoRawControls(inspect.stdout);
    expect(inspect.stdout).toContain('  ok\\r\\x1b[2Kevil\\u202egp.bin');
    const inspectJSON = await runCli(['inspect', sig, '--json']);
    expectNoRawControls(inspectJSON.stdout);
    expect(
      (
        JSON.parse(inspectJSON.stdout) as {
          manifest: { resources: { name: string }[] };
        }
      ).manifest.resources.map((r) => r.name),
    ).toContain(signedName);

    // An unsigned file whose name would recolour the terminal and return.
    writeFileSync(join(model, 'new\x1b[31mred\r\u2066x'), 'x');
    const failed = await runCli([
      'verify',
      'key',
      model,
      '--public-key',
      pub,
      '--signature',
      sig,
      '-q',
    ]);
    expect(failed.code).toBe(1);
    expectNoRawControls(failed.stdout);
    expectNoRawControls(failed.stderr);
    expect(failed.stderr).toContain('  unsigned: new\\x1b[31mred\\r\\u2066x');
    expect(failed.stderr).toMatch(/\[MANIFEST_MISMATCH\]/);

    const tolerated = await runCli([
      'verify',
      'key',
      model,
      '--public-key',
      pub,
      '--signature',
      sig,
      '-q',
      '--ignore-unsigned-files',
    ]);
    expect(tolerated.code).toBe(0);
    expectNoRawControls(tolerated.stdout);
    expectNoRawControls(tolerated.stderr);
    expect(tolerated.stdout).toContain(
      'tolerated unsigned files: new\\x1b[31mred\\r\\u2066x',
    );

    const diff = await runCli(['diff', sig, model, '-q']);
    expect(diff.code).toBe(0);
    expectNoRawControls(diff.stdout);
    expect(diff.stdout).toContain('added:   new\\x1b[31mred\\r\\u2066x');

    const digest = await runCli(['digest', model, '--json', '-q']);
    expect(digest.code).toBe(0);
    expectNoRawControls(digest.stdout);
    expect(digest.stdout).toContain('\\u2066');
  });

  it('verify and inspect: a key hint from the bundle (KEY_MISMATCH) is escaped', async () => {
    const model = join(work, 'hinted');
    mkdirSync(model);
    writeFileSync(join(model, 'w.bin'), 'w');
    const sig = join(work, 'hinted.sig');
    expect((await runCli(keySignArgs(model, key, sig, ['-q']))).code).toBe(0);
    const bundle = JSON.parse(readFileSync(sig, 'utf8')) as {
      verificationMaterial: { publicKey: { hint: string } };
    };
    // The hint is not signed: anyone can write anything there.
    bundle.verificationMaterial.publicKey.hint =
      'ab\r\x1b[2Kverified OK\u202e\u009b2K';
    writeFileSync(sig, JSON.stringify(bundle));

    const inspect = await runCli(['inspect', sig]);
    expectNoRawControls(inspect.stdout);
    expectNoRawControls(inspect.stderr);
    expect(inspect.stdout + inspect.stderr).toContain(
      'ab\\r\\x1b[2Kverified OK\\u202e\\x9b2K',
    );

    const verify = await runCli([
      'verify',
      'key',
      model,
      '--public-key',
      pub,
      '--signature',
      sig,
      '-q',
    ]);
    expect(verify.code).toBe(1);
    expectNoRawControls(verify.stdout);
    expectNoRawControls(verify.stderr);
    expect(verify.stderr).toContain('ab\\r\\x1b[2Kverified OK\\u202e\\x9b2K');
    expect(verify.stderr.trimEnd().split('\n')).toHaveLength(1);

    const verifyJSON = await runCli([
      'verify',
      'key',
      model,
      '--public-key',
      pub,
      '--signature',
      sig,
      '--json',
    ]);
    expectNoRawControls(verifyJSON.stdout);
    const error = (
      JSON.parse(verifyJSON.stdout) as { error: { message: string } }
    ).error;
    expect(error.message).toContain('ab\r\x1b[2Kverified OK\u202e\u009b2K');
  });
});
