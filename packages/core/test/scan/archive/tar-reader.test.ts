// SPDX-License-Identifier: Apache-2.0
// The bounded tar reader (issue 9, item 4): the members it scans are the
// members CPython's tarfile reads (cross-checked when python3 is present),
// every cap ends the walk with a high SCAN_INCOMPLETE naming it, and an
// aborted signal stops the walk.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MAX_TAR_BAD_HEADERS,
  MAX_TAR_META_BYTES,
  MAX_TAR_META_CHAIN,
  MAX_TAR_SPARSE_SEGMENTS,
  TarArchiveScanner,
} from '../../../src/scan/archive/tar-scanner.js';
import { MAX_ARCHIVE_ENTRIES } from '../../../src/scan/archive/zip-scanner.js';
import { bufferSource } from '../../../src/scan/source.js';
import {
  DEFAULT_SCAN_LIMITS,
  type ByteSource,
  type Finding,
  type ScanContext,
} from '../../../src/scan/types.js';
import { FORMAT_VECTORS, REPO_ROOT } from './format-harness.js';
import * as T from '../../../../../scripts/fixtures/tar-fixtures.mjs';

interface Walked {
  findings: Finding[];
  members: { name: string; sha256: string; size: number }[];
}

async function readAll(source: ByteSource): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let p = 0; p < source.size; p += 1 << 20)
    parts.push(await source.read(p, Math.min(1 << 20, source.size - p)));
  return Buffer.concat(parts);
}

/** Runs the tar scanner alone and records every member it hands on. */
async function walk(bytes: Buffer, signal?: AbortSignal): Promise<Walked> {
  const findings: Finding[] = [];
  const members: Walked['members'] = [];
  const ctx: ScanContext = {
    file: 't.tar',
    absolutePath: '',
    member: [],
    depth: 0,
    limits: DEFAULT_SCAN_LIMITS,
    ...(signal ? { signal } : {}),
    report(f): void {
      findings.push({ ...f, file: 't.tar', member: f.member ?? [] });
    },
    async scanNested(source, name): Promise<void> {
      const data = await readAll(source);
      members.push({
        name,
        size: data.length,
        sha256: createHash('sha256').update(data).digest('hex'),
      });
    },
    recognise(): void {},
  };
  await TarArchiveScanner.scan(bufferSource(bytes), ctx);
  return { findings, members };
}

const incomplete = (w: Walked): Finding[] =>
  w.findings.filter((f) => f.ruleId === 'SCAN_INCOMPLETE');

// ---------------------------------------------------------------- tarfile

// Every path given: the members tarfile extracts, with their bytes' digest.
const LIST_WITH_TARFILE = `
import hashlib, json, sys, tarfile
result = {}
for path in sys.argv[1:]:
    out = []
    with tarfile.open(path) as t:
        for m in t.getmembers():
            if m.issym() or m.islnk():
                continue
            f = t.extractfile(m)
            if f is None:
                continue
            d = f.read()
            name = m.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            out.append({"name": name, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()})
    result[path] = out
print(json.dumps(result))
`;

const python = spawnSync('python3', ['-c', 'import tarfile'], {
  encoding: 'utf8',
});
const hasPython = python.status === 0;

let listed: Record<string, Walked['members']> | undefined;

/** tarfile's members of `path` (one python3 run lists every archive of the test). */
function tarfileMembers(path: string, all: string[]): Walked['members'] {
  if (listed === undefined) {
    const r = spawnSync('python3', ['-c', LIST_WITH_TARFILE, ...all], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(r.stderr);
    listed = JSON.parse(r.stdout) as Record<string, Walked['members']>;
  }
  const members = listed[path];
  if (members === undefined) throw new Error(`${path} not listed`);
  return members;
}

const TESTTAR = join(
  REPO_ROOT,
  'test-vectors',
  'real',
  'cpython',
  'testtar.tar',
);
const archiveDir = join(FORMAT_VECTORS, 'archive');
// tarfile refuses these two (a size past the end, an extended header past the end).
const REFUSED = new Set([
  'tar-size-lie-truncated.tar',
  'tar-pax-header-huge.tar',
]);
const tarFixtures = readdirSync(archiveDir)
  .filter((f) => f.endsWith('.tar') && !REFUSED.has(f))
  .map((f) => join(archiveDir, f));

const crossChecked = [
  ...tarFixtures,
  ...(existsSync(TESTTAR) ? [TESTTAR] : []),
];

describe('tar reader against CPython tarfile', () => {
  it
    .skipIf(!hasPython)
    .each(crossChecked.map((p) => [p.slice(REPO_ROOT.length + 1), p]))(
    '%s: every member tarfile extracts is scanned with the same bytes',
    async (_, path) => {
      const ours = await walk(readFileSync(path));
      const theirs = tarfileMembers(path, crossChecked).filter(
        (m) => m.size > 0,
      );
      for (const m of theirs) expect(ours.members).toContainEqual(m);
    },
  );
});

describe('tar reader', () => {
  it.skipIf(!existsSync(TESTTAR))(
    "reads CPython's testtar.tar to its end: sparse, long names, pax, a directory with a size",
    async () => {
      const w = await walk(readFileSync(TESTTAR));
      expect(incomplete(w)).toEqual([]);
      const serious = w.findings.filter((f) =>
        ['critical', 'high', 'medium'].includes(f.severity),
      );
      expect(new Set(serious.map((f) => f.ruleId))).toEqual(
        new Set(['ARCHIVE_SPECIAL_FILE']),
      );
      expect(
        w.findings.find((f) => f.ruleId === 'ARCHIVE_TAR_QUIRK')?.message,
      ).toContain('ustar/dirtype-with-size declares 255 bytes');
      const names = w.members.map((m) => m.name);
      for (const n of [
        'gnu/sparse',
        'gnu/sparse-0.0',
        'gnu/sparse-0.1',
        'gnu/sparse-1.0',
        'misc/regtype-xstar',
      ])
        expect(names).toContain(n);
      expect(w.members.find((m) => m.name === 'gnu/sparse-1.0')?.size).toBe(
        86016,
      );
      // The last member with data, 433 KB in: the walk reached the end.
      expect(w.members.at(-1)?.name).toMatch(/^pax\/hdrcharset-/);
    },
  );

  it('scans the member after an old-sparse member with extension blocks', async () => {
    const evil = Buffer.from('payload after sparse');
    const segs = Array.from({ length: 30 }, (_, i) => [i * 2048, 100]);
    const content = T.sparseContent(64 * 1024, segs);
    const w = await walk(
      Buffer.concat([
        T.oldSparse('s.bin', content, segs),
        T.member({ name: 'next.pkl' }, evil),
        T.END,
      ]),
    );
    expect(incomplete(w)).toEqual([]);
    expect(w.members.map((m) => m.name)).toEqual(['s.bin', 'next.pkl']);
    expect(w.members[0]?.sha256).toBe(
      createHash('sha256').update(content).digest('hex'),
    );
  });

  it('never hangs on a directory whose declared data is present, and resumes after it', async () => {
    const w = await walk(
      Buffer.concat([
        T.header({ name: 'd/', type: '5', size: 3000 }),
        Buffer.alloc(3072, 0x41),
        T.member({ name: 'x.pkl' }, Buffer.from('x')),
        T.END,
      ]),
    );
    expect(incomplete(w)).toHaveLength(1);
    expect(incomplete(w)[0]?.severity).toBe('high');
    expect(w.members.map((m) => m.name)).toEqual(['x.pkl']);
  });

  it('scans the member GNU tar sees after a symlink that declares a size, which tarfile reads as data', async () => {
    // tarfile: link, cover.bin (whose data holds `hidden`); GNU tar skips
    // the 1024 bytes after the symlink and extracts `hidden`.
    const hidden = Buffer.concat([
      T.member({ name: 'hidden.pkl' }, Buffer.from('payload')),
      T.member({ name: 'hidden2.pkl' }, Buffer.from('payload 2')),
    ]);
    const w = await walk(
      Buffer.concat([
        T.header({ name: 'link', type: '2', size: 1024, linkname: 'x' }),
        T.member(
          { name: 'cover.bin' },
          Buffer.concat([Buffer.alloc(512, 0x20), hidden]),
        ),
        T.END,
      ]),
    );
    expect(w.findings.map((f) => [f.ruleId, f.severity]).sort()).toEqual([
      ['ARCHIVE_LINK', 'low'],
      ['ARCHIVE_TAR_DIFFERENTIAL', 'high'],
      ['ARCHIVE_TAR_QUIRK', 'low'],
    ]);
    expect(w.members.map((m) => m.name)).toEqual([
      'cover.bin',
      'hidden.pkl',
      'hidden2.pkl',
    ]);
  });

  it('finds a member that tar --ignore-zeros extracts after the end marker and some garbage', async () => {
    const w = await walk(
      Buffer.concat([
        T.member({ name: 'a' }, Buffer.from('a')),
        T.END,
        Buffer.alloc(1536, 0x47),
        T.member({ name: 'late.pkl' }, Buffer.from('late')),
        T.END,
      ]),
    );
    expect(w.findings.map((f) => f.ruleId)).toEqual([
      'ARCHIVE_TAR_DIFFERENTIAL',
    ]);
    expect(w.members.map((m) => m.name)).toEqual(['a', 'late.pkl']);
  });

  it('reads a Solaris X header as pax and does not call its name an absolute path', async () => {
    const w = await walk(
      Buffer.concat([
        T.paxHeader([['path', 'm/w.bin']], {
          type: 'X',
          name: '/tmp/PaxHeaders/w.bin',
        }),
        T.member({ name: 'short' }, Buffer.from('w')),
        T.END,
      ]),
    );
    expect(w.findings).toEqual([]);
    expect(w.members.map((m) => m.name)).toEqual(['m/w.bin']);
  });

  it('applies the first of two extended headers as tarfile does (L before x wins)', async () => {
    const w = await walk(
      Buffer.concat([
        T.gnuLong('L', 'from-L'),
        T.paxHeader([['path', 'from-x']]),
        T.member({ name: 'from-header' }, Buffer.from('1')),
        T.paxHeader([['path', 'from-x2']]),
        T.gnuLong('L', 'from-L2'),
        T.member({ name: 'from-header2' }, Buffer.from('2')),
        T.END,
      ]),
    );
    expect(w.members.map((m) => m.name)).toEqual(['from-L', 'from-x2']);
  });

  it('caps extended headers in a row', async () => {
    const chain = Array.from({ length: MAX_TAR_META_CHAIN + 1 }, (_, i) =>
      T.gnuLong('L', `n${i}`),
    );
    const w = await walk(
      Buffer.concat([
        ...chain,
        T.member({ name: 'm' }, Buffer.from('m')),
        T.END,
      ]),
    );
    expect(incomplete(w).map((f) => f.evidence?.limit)).toEqual([
      'maxTarMetaChain',
    ]);
    expect(w.members).toHaveLength(1);
  });

  it('caps the size of an extended header and still scans the member after it', async () => {
    const w = await walk(
      Buffer.concat([
        T.member(
          { name: 'PaxHeader', type: 'x' },
          Buffer.alloc(MAX_TAR_META_BYTES + 1, 0x20),
        ),
        T.member({ name: 'after' }, Buffer.from('a')),
        T.END,
      ]),
    );
    expect(incomplete(w).map((f) => [f.severity, f.evidence?.limit])).toEqual([
      ['high', 'maxTarMetaBytes'],
    ]);
    expect(w.members.map((m) => m.name)).toEqual(['after']);
  });

  it('gives up after too many unreadable headers', async () => {
    const bad = T.header({ name: 'b', checksum: 1 });
    const w = await walk(
      Buffer.concat([
        T.member({ name: 'first' }, Buffer.from('1')),
        ...Array.from({ length: MAX_TAR_BAD_HEADERS + 1 }, () =>
          Buffer.concat([bad, T.member({ name: 'ok' })]),
        ),
        T.END,
      ]),
    );
    const limits = incomplete(w).map((f) => f.evidence?.limit);
    expect(limits.at(-1)).toBe('maxTarBadHeaders');
    expect(limits.filter((l) => l === 'tar-header')).toHaveLength(
      MAX_TAR_BAD_HEADERS,
    );
  });

  it('caps the segments of a sparse 1.0 map', async () => {
    const map = T.pad(Buffer.from(`${MAX_TAR_SPARSE_SEGMENTS + 1}\n0\n1\n`));
    const w = await walk(
      Buffer.concat([
        T.paxHeader([
          ['GNU.sparse.major', '1'],
          ['GNU.sparse.minor', '0'],
          ['GNU.sparse.realsize', '10'],
        ]),
        T.member({ name: 's' }, Buffer.concat([map, Buffer.alloc(512)])),
        T.END,
      ]),
    );
    expect(incomplete(w).map((f) => f.evidence?.limit)).toEqual([
      'maxTarSparseSegments',
    ]);
  });

  it('caps the member count', async () => {
    const one = T.header({ name: 'd/', type: '5' });
    const w = await walk(
      Buffer.concat([
        ...Array.from({ length: MAX_ARCHIVE_ENTRIES + 1 }, () => one),
        T.END,
      ]),
    );
    expect(incomplete(w).map((f) => f.evidence?.limit)).toEqual([
      'maxArchiveEntries',
    ]);
  });

  it('reports a sparse member that expands past maxExpandedBytes as a bomb', async () => {
    const segs = [[DEFAULT_SCAN_LIMITS.maxExpandedBytes + 10, 1]];
    const stored = Buffer.from('A');
    const bytes = Buffer.concat([
      T.header({
        name: 'bomb',
        type: 'S',
        size: 1,
        magic: 'gnu',
        sparse: {
          structs: segs,
          extended: false,
          realSize: DEFAULT_SCAN_LIMITS.maxExpandedBytes + 11,
        },
      }),
      T.pad(stored),
      T.END,
    ]);
    const w = await walk(bytes);
    expect(w.findings.map((f) => f.ruleId).sort()).toEqual([
      'ARCHIVE_DECOMPRESSION_BOMB',
      'SCAN_INCOMPLETE',
    ]);
    expect(w.members.map((m) => m.size)).toEqual([1]);
  });

  it('stops between members once the signal is aborted', async () => {
    const controller = new AbortController();
    const scanned: string[] = [];
    const ctx: ScanContext = {
      file: 't.tar',
      absolutePath: '',
      member: [],
      depth: 0,
      limits: DEFAULT_SCAN_LIMITS,
      signal: controller.signal,
      report(): void {},
      scanNested(_source, name): Promise<void> {
        scanned.push(name);
        controller.abort();
        return Promise.resolve();
      },
      recognise(): void {},
    };
    await TarArchiveScanner.scan(
      bufferSource(
        Buffer.concat([
          T.member({ name: 'a' }, Buffer.from('a')),
          T.member({ name: 'b' }, Buffer.from('b')),
          T.member({ name: 'c' }, Buffer.from('c')),
          T.END,
        ]),
      ),
      ctx,
    );
    expect(scanned).toEqual(['a']);
  });

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const w = await walk(
      Buffer.concat([T.member({ name: 'a' }, Buffer.from('a')), T.END]),
      controller.signal,
    );
    expect(w.members).toEqual([]);
  });
});
