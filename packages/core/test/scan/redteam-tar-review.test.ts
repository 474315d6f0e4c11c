// SPDX-License-Identifier: Apache-2.0
// Red-team review of the scan gate on tar (tar-scanner.ts, the engine's
// format dispatch). Each `scan reports high` case was a bypass (written as
// `it.fails`, now passing): a tar from which CPython's tarfile (extractfile,
// or extractall and then pickle.load; torch.load's legacy path, which does
// tar.extract('storages') and unpickles it) hands a pickle calling
// posix.system to the loader, while the scan reported nothing at high or
// above. Checked on Python 3.11.7 with posix.system swapped for a
// recorder; the `tarfile reads` tests re-check, without unpickling, that
// tarfile gives the payload bytes for the member.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import { severityAtLeast, type FileScanResult } from '../../src/scan/types.js';
import { highs } from './helpers/findings.js';

const BLOCK = 512;

/** A protocol 0 pickle that calls `posix.system('id')`. */
const EVIL = Buffer.from("cposix\nsystem\n(S'id'\ntR.", 'latin1');

function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

const octal = (n: number, width: number): string =>
  `${n.toString(8).padStart(width - 1, '0')}\0`;

interface Fields {
  name: string | Buffer;
  type?: string;
  size?: number;
  magic?: 'ustar' | 'gnu' | 'v7';
  /** Raw checksum field (8 bytes); default: the correct sum in octal. */
  checksum?: (sum: number) => string;
}

/** One header block with a valid checksum. */
function header(f: Fields): Buffer {
  const h = Buffer.alloc(BLOCK);
  if (typeof f.name === 'string') h.write(f.name, 0, 100, 'utf8');
  else f.name.copy(h, 0, 0, 100);
  h.write(octal(0o644, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(f.size ?? 0, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1');
  h.write(f.type ?? '0', 156, 'latin1');
  const magic = f.magic ?? 'ustar';
  if (magic === 'ustar') h.write('ustar\x0000', 257, 'latin1');
  else if (magic === 'gnu') h.write('ustar  \0', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  const field = f.checksum?.(sum) ?? `${sum.toString(8).padStart(6, '0')}\0 `;
  h.write(field.padEnd(8, '\0').slice(0, 8), 148, 'latin1');
  return h;
}

function member(f: Fields, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([header({ size: data.length, ...f }), pad(data)]);
}

function paxRecords(pairs: [string, string][]): Buffer {
  return Buffer.concat(
    pairs.map(([k, v]) => {
      const body = Buffer.from(` ${k}=${v}\n`, 'utf8');
      let n = body.length + 1;
      while (String(n).length + body.length !== n)
        n = String(n).length + body.length;
      return Buffer.concat([Buffer.from(String(n), 'latin1'), body]);
    }),
  );
}

function pax(pairs: [string, string][], type = 'x'): Buffer {
  return member({ name: 'PaxHeader/x', type }, paxRecords(pairs));
}

const END = Buffer.alloc(2 * BLOCK);

const scan = (data: Buffer, name: string): Promise<FileScanResult> =>
  scanSource(bufferSource(data), name);

const python = spawnSync('python3', ['-c', 'import tarfile'], {
  encoding: 'utf8',
});
const hasPython = python.status === 0;

/** The bytes tarfile's `extractfile(name)` gives for `tar` (never unpickled). */
function tarfileMember(tar: Buffer, name: string): Buffer {
  const r = spawnSync(
    'python3',
    [
      '-c',
      'import io,sys,tarfile\n' +
        't=tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()))\n' +
        'sys.stdout.write(t.extractfile(sys.argv[1]).read().hex())',
      name,
    ],
    { input: tar, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return Buffer.from(r.stdout, 'hex');
}

/** Python's version as [major, minor, micro]. */
function pythonVersion(): number[] {
  const r = spawnSync(
    'python3',
    ['-c', 'import sys; print(*sys.version_info[:3])'],
    { encoding: 'utf8' },
  );
  return r.stdout.trim().split(' ').map(Number);
}

interface Case {
  title: string;
  tar: Buffer;
  member: string;
  /** Whether the installed tarfile is one that reads the payload (default: all). */
  tarfileReads?: (v: number[]) => boolean;
}

const cases: Case[] = [
  {
    // tarfile's _apply_pax_info sets `size` from GNU.sparse.realsize even
    // when no sparse map follows, after the next-header offset was taken
    // from the header's size (0): model.pkl is the 512 bytes of the next
    // header block, whose name field is the pickle (pickle.load stops at
    // STOP). The scanner keeps the header size for a member without a
    // sparse map: model.pkl is empty, and the pickle is only ever read as a
    // header.
    title:
      'pax GNU.sparse.realsize without a sparse map gives a zero-size member the next header block, a pickle',
    tar: Buffer.concat([
      pax([['GNU.sparse.realsize', '512']]),
      header({ name: 'model.pkl' }),
      header({ name: EVIL }),
      END,
    ]),
    member: 'model.pkl',
  },
  {
    // The same through a global header (applied in _proc_builtin, after the
    // offset): model.pkl declares 1 byte, the scanner scans the byte `c`,
    // tarfile reads 512 bytes, the rest of the pickle lying in the padding
    // of the data block.
    title:
      'global GNU.sparse.realsize stretches a 1-byte member over its block padding, where the pickle continues',
    tar: Buffer.concat([
      pax([['GNU.sparse.realsize', '512']], 'g'),
      header({ name: 'model.pkl', size: 1 }),
      pad(EVIL),
      END,
    ]),
    member: 'model.pkl',
  },
  {
    // Sparse 0.0: tarfile before the CVE-2024-6232 fix (3.11.9, 3.12.5 and
    // older) takes the map from the raw pax block with the regex
    // rb"\d+ GNU.sparse.offset=(\d+)\n", whose dots match any byte; the
    // scanner wants the exact keywords, finds no segment, and scans 24 zero
    // bytes in place of the stored pickle.
    title:
      "sparse 0.0 map under keywords that only match tarfile's regex (GNUxsparse.offset): the scanner sees holes",
    tar: Buffer.concat([
      pax([
        ['GNU.sparse.size', String(EVIL.length)],
        ['GNUxsparse.offset', '0'],
        ['GNUxsparse.numbytes', String(EVIL.length)],
      ]),
      member({ name: 'model.pkl' }, EVIL),
      END,
    ]),
    member: 'model.pkl',
    tarfileReads: ([a, b, c]) =>
      a === 3 &&
      ((b as number) < 11 ||
        (b === 11 && (c as number) < 10) ||
        (b === 12 && (c as number) < 6)),
  },
  ...(
    [
      ['a tab before it', (s: number): string => `\t${s.toString(8)}\0`],
      ['a plus sign', (s: number): string => `+${s.toString(8)}\0`],
      [
        'an underscore between digits',
        (s: number): string => {
          const o = s.toString(8);
          return `${o[0]}_${o.slice(1)}\0`;
        },
      ],
    ] as const
  ).map(([how, checksum]): Case => ({
    // tarfile's nti is int(field.strip(), 8): whitespace, a sign and
    // underscores are accepted. isTarHeader only accepts octal digits,
    // blanks and nuls in a v7 (no magic) checksum: the file is not
    // recognised as a tar and nothing is scanned.
    title: `v7 header whose checksum field has ${how}: the tar is not recognised`,
    tar: Buffer.concat([
      member({ name: 'model.pkl', magic: 'v7', checksum }, EVIL),
      END,
    ]),
    member: 'model.pkl',
  })),
  {
    // isTarHeader refuses a v7 block whose first byte is 0 (an empty name);
    // tarfile reads a global header with an empty name and goes on.
    title:
      'a first pax global header with an empty name and no magic: the tar is not recognised',
    tar: Buffer.concat([
      member(
        { name: '', type: 'g', magic: 'v7' },
        paxRecords([['comment', 'x']]),
      ),
      member({ name: 'model.pkl' }, EVIL),
      END,
    ]),
    member: 'model.pkl',
  },
  {
    // The pickle scanner comes before the tar scanner in the registry; the
    // first name field is a whole benign pickle (PROTO 2, NONE, STOP), so
    // the file is scanned as that pickle (low PICKLE_TRAILING_DATA). torch.load
    // of a non-zip file tries tarfile first (legacy_load) and unpickles the
    // `storages` member; tarfile does not care what the first name is.
    title:
      'a tar whose first member name is a benign binary pickle is scanned as that pickle',
    tar: Buffer.concat([
      member({ name: Buffer.from('\x80\x02N.', 'latin1') }, Buffer.from('x')),
      member({ name: 'storages' }, EVIL),
      END,
    ]),
    member: 'storages',
  },
];

describe('red team: tar reader differentials (bypasses)', () => {
  for (const c of cases) {
    it.skipIf(
      !hasPython ||
        (c.tarfileReads !== undefined && !c.tarfileReads(pythonVersion())),
    )(`tarfile reads the pickle: ${c.title}`, () => {
      const got = tarfileMember(c.tar, c.member);
      expect(got.subarray(0, EVIL.length)).toEqual(EVIL);
    });
    it(`scan reports high: ${c.title}`, async () => {
      const r = await scan(c.tar, 'model.tar');
      expect(highs(r)).not.toEqual([]);
    });
  }
});

describe('red team: tar checks that held', () => {
  it('a ustar header with a tab in its checksum is read as tarfile reads it: the pickle is found', async () => {
    const tar = Buffer.concat([
      member({ name: 'a' }, Buffer.from('x')),
      member(
        { name: 'model.pkl', checksum: (s) => `\t${s.toString(8)}\0` },
        EVIL,
      ),
      END,
    ]);
    const r = await scan(tar, 'model.tar');
    expect(highs(r)).not.toContain('SCAN_INCOMPLETE');
    expect(
      r.findings.some(
        (f) =>
          f.member.includes('model.pkl') && severityAtLeast(f.severity, 'high'),
      ),
    ).toBe(true);
  });

  it('a negative size (a sign tarfile takes) is an unreadable header, not a loop', async () => {
    const h = header({ name: 'model.pkl' });
    h.write('-0000001\0', 124, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const tar = Buffer.concat([h, pad(EVIL), END]);
    const r = await scan(tar, 'model.tar');
    expect(highs(r)).toContain('SCAN_INCOMPLETE');
  });

  it('a hard link to an earlier evil member: the target is scanned', async () => {
    const tar = Buffer.concat([
      member({ name: 'evil.pkl' }, EVIL),
      header({ name: 'model.pkl', type: '1' }),
      END,
    ]);
    // linkname at 157
    tar.write('evil.pkl', 512 + 512 + 157, 'latin1');
    const h = tar.subarray(1024, 1536);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    if (hasPython) expect(tarfileMember(tar, 'model.pkl')).toEqual(EVIL);
    expect(highs(await scan(tar, 'model.tar')).length).toBeGreaterThan(0);
  });
});
