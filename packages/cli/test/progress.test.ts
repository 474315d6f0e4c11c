// SPDX-License-Identifier: Apache-2.0
// --progress: plain lines for CI logs (a real subprocess with CI set and no
// terminal), the interval line while a large file is hashed, and the
// terminal bar cut to the terminal's width.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  progressReporter,
  type ProgressStream,
} from '../src/output/progress.js';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-cli-progress-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const { privateKey } = generateKeyPairSync('ed25519');
const keyFile = join(work, 'key.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));

const model = join(work, 'model');
mkdirSync(join(model, 'weights'), { recursive: true });
writeFileSync(join(model, 'config.json'), '{"layers": 2}');
writeFileSync(join(model, 'weights', 'a.bin'), Buffer.alloc(300_000, 1));
writeFileSync(join(model, 'weights', 'b.bin'), Buffer.alloc(200_000, 2));

const LINE =
  /^hashed (\S+) \[(\d+)\/3 files, [\d.]+ (?:B|kB|MB|GB) \/ 500\.0 kB \(\d+%\), (?:[\d.]+ (?:B|kB|MB|GB)\/s|-)\]$/;

class FakeStream implements ProgressStream {
  writes: string[] = [];
  constructor(
    public isTTY: boolean,
    public columns: number,
  ) {}
  write(text: string): boolean {
    this.writes.push(text);
    return true;
  }
}

describe('--progress plain', () => {
  it('with CI set and no terminal: a line per file scanned and hashed, with bytes and rate, no escape', async () => {
    const r = await runCli(
      [
        'sign',
        'key',
        model,
        '--private-key',
        keyFile,
        '--signature',
        join(work, 'plain.sig'),
        '--progress',
        'plain',
      ],
      { env: { CI: 'true' } },
    );
    expect(r.code).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(r.stderr).not.toContain(String.fromCharCode(27));
    expect(r.stderr).not.toContain('\r');
    expect(lines.filter((l) => l.startsWith('scanned '))).toHaveLength(3);
    expect(lines).toContain('hashing 3 files, 500.0 kB');
    const hashed = lines.filter((l) => LINE.test(l));
    expect(hashed.map((l) => LINE.exec(l)![1]).sort()).toEqual([
      'config.json',
      'weights/a.bin',
      'weights/b.bin',
    ]);
    expect(lines.at(-1)).toMatch(
      /^hashed 3 files, 500\.0 kB in [\d.]+ s \((?:[\d.]+ (?:B|kB|MB|GB)\/s|-)\)$/,
    );
  });

  it('auto with CI set and no terminal prints nothing; --json prints nothing either', async () => {
    for (const flags of [[], ['--json']]) {
      const r = await runCli(
        [
          'digest',
          model,
          ...flags,
          ...(flags.length === 0 ? [] : ['--progress', 'plain']),
        ],
        { env: { CI: 'true' } },
      );
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
    }
  });

  it('prints an interval line while a large file is hashed', () => {
    let now = 0;
    const stream = new FakeStream(false, 80);
    const p = progressReporter('plain', {
      stream,
      intervalMs: 10_000,
      now: () => now,
    });
    const total = 2 ** 31;
    const event = (bytesDone: number, filesDone = 0, path?: string) => ({
      phase: 'hash' as const,
      bytesDone,
      bytesTotal: total,
      filesDone,
      filesTotal: 1,
      ...(path === undefined ? {} : { path }),
    });
    p.onProgress!(event(0));
    for (let s = 1; s <= 25; s++) {
      now = s * 1000;
      p.onProgress!(event((total / 25) * s));
    }
    p.onProgress!(event(total, 1, 'model.bin'));
    p.onProgress!(event(total, 1));
    expect(stream.writes.join('')).toBe(
      [
        'hashing 1 files, 2.15 GB',
        'hashing [0/1 files, 859.0 MB / 2.15 GB (40%), 85.9 MB/s]',
        'hashing [0/1 files, 1.72 GB / 2.15 GB (80%), 85.9 MB/s]',
        'hashed model.bin [1/1 files, 2.15 GB / 2.15 GB (100%), 85.9 MB/s]',
        'hashed 1 files, 2.15 GB in 25.0 s (85.9 MB/s)',
        '',
      ].join('\n'),
    );
  });
});

describe('--progress auto on a terminal', () => {
  it('the bar never runs past the terminal width, follows a resize and clears itself', () => {
    let now = 0;
    const stream = new FakeStream(true, 100);
    const p = progressReporter('auto', { stream, env: {}, now: () => now });
    for (let i = 0; i <= 10; i++) {
      now = i * 200;
      if (i === 5) stream.columns = 40;
      p.onProgress!({
        phase: 'hash',
        bytesDone: i * 1e8,
        bytesTotal: 1e9,
        filesDone: i,
        filesTotal: 10,
      });
    }
    p.done();
    const draws = stream.writes.slice(0, -1);
    expect(draws.length).toBe(11);
    const bars = new Set<number>();
    for (const [i, d] of draws.entries()) {
      expect(d.startsWith('\r\x1b[2K')).toBe(true);
      const visible = d.slice('\r\x1b[2K'.length);
      for (const c of ['\r', '\n', '\x1b']) expect(visible).not.toContain(c);
      expect(visible.length).toBeLessThanOrEqual(i < 5 ? 99 : 39);
      const bar = /\[[#.]+\]/.exec(visible);
      // A bar on the wide terminal, of one size whatever the numbers; none at 40 columns.
      if (i < 5) bars.add(bar![0].length);
      else expect(bar).toBeNull();
      expect(visible).toMatch(/^hashing .*\d+%/);
    }
    expect(bars.size).toBe(1);
    expect(stream.writes.at(-1)).toBe('\r\x1b[2K');
  });

  it('redraws at most every 100 ms', () => {
    let now = 0;
    const stream = new FakeStream(true, 80);
    const p = progressReporter('auto', { stream, env: {}, now: () => now });
    for (let i = 0; i < 100; i++) {
      now = 1000 + i; // 100 events in 100 ms
      p.onProgress!({
        phase: 'hash',
        bytesDone: i,
        bytesTotal: 100,
        filesDone: 0,
        filesTotal: 1,
      });
    }
    expect(stream.writes.length).toBeLessThanOrEqual(2);
  });

  it('CI set: no bar even on a terminal', () => {
    const stream = new FakeStream(true, 80);
    const p = progressReporter('auto', { stream, env: { CI: 'true' } });
    expect(p.onProgress).toBeUndefined();
  });
});
