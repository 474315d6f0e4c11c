// SPDX-License-Identifier: Apache-2.0
/**
 * Tar and gzip (`threats.md` §7). Tar is read by a bounded reader of our own
 * that follows CPython's `tarfile` (the loader most models meet) and notes
 * where other readers (GNU tar, tar-stream, node-tar) see something else:
 *
 * - ustar, GNU and v7 headers with checksum validation (unsigned or signed
 *   sums), base-256 numbers, the ustar prefix;
 * - GNU long names and links (`L`, `K`), pax extended and global headers
 *   (`x`, `g`) and Solaris `X` headers (read as pax, like tarfile does);
 * - GNU sparse members: old `S` headers with extension blocks, pax sparse
 *   0.0, 0.1 and 1.0; the member is scanned as the file that extraction
 *   produces (holes read as zeros);
 * - directories, links and devices with a non-zero size: no data skipped
 *   (tarfile; GNU tar skips it after symlinks and devices), with a check
 *   of what readers that do skip it see;
 * - unknown typeflags: a regular file, as tarfile and GNU tar extract them;
 * - a header that cannot be read is a high `SCAN_INCOMPLETE` and the walk
 *   resumes at the next valid header (GNU tar's "skipping to next header").
 *
 * Every regular member is scanned as its own artifact through
 * `ctx.scanNested`, as a window onto the archive (no copy). Caps on members,
 * header blocks, extended-header sizes and chains, sparse maps and unreadable
 * headers end the walk with a high `SCAN_INCOMPLETE` naming the cap.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { bufferSource, sliceSource } from '../source.js';
import { reportIncomplete } from '../incomplete.js';
import { readRange } from './byte-source.js';
import {
  checkEntryName,
  checkHardlink,
  checkSymlink,
  LinkTracker,
} from './entry-paths.js';
import { BOMB_RATIO, MAX_ARCHIVE_ENTRIES } from './zip-scanner.js';
import {
  blockCeil,
  checksumOk,
  isKnownType,
  isTarHeader,
  isZeroBlock,
  META_TYPES,
  nts,
  parseHeader,
  parsePaxRecords,
  parseSparseExtension,
  paxInt,
  TAR_BLOCK,
  typeHasData,
  type TarHeader,
} from './tar-header.js';

export { isTarHeader };

/** Header blocks of every kind (members, extended headers, sparse extensions) read per archive. */
export const MAX_TAR_HEADERS = 1_000_000;
/** Largest pax record block, GNU long name or link, and total of pax global records. */
export const MAX_TAR_META_BYTES: number = 1024 * 1024;
/** Extended headers (`x`, `g`, `X`, `L`, `K`) in a row before one member. */
export const MAX_TAR_META_CHAIN = 16;
/** Sparse segments of one member. */
export const MAX_TAR_SPARSE_SEGMENTS = 1_000_000;
/** Unreadable headers recovered from per archive before the walk gives up. */
export const MAX_TAR_BAD_HEADERS = 100;
/** Offsets where another tar reader would look for a header, checked per archive. */
const MAX_ALTERNATIVE_OFFSETS = 10_000;

const WINDOW = 1024 * 1024;

/** Stops the walk (a cap was hit and reported, or the scan was aborted). */
class StopWalk extends Error {}

/** Block reads through a 1 MiB window. */
class BlockReader {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  constructor(private readonly source: ByteSource) {}
  /** The block at `pos` (shorter at the end of the source, empty past it). */
  async block(pos: number): Promise<Buffer> {
    if (pos < this.start || pos + TAR_BLOCK > this.start + this.buf.length) {
      if (pos >= this.source.size) return Buffer.alloc(0);
      this.buf = await readRange(
        this.source,
        pos,
        Math.min(WINDOW, this.source.size - pos),
      );
      this.start = pos;
    }
    const i = pos - this.start;
    return this.buf.subarray(i, Math.min(i + TAR_BLOCK, this.buf.length));
  }
}

/** A parsed extended header waiting for its member. */
type Meta =
  | { kind: 'L' | 'K'; text: string }
  | { kind: 'x'; records: [string, string][] };

/** One stored run of a sparse member. */
interface Segment {
  offset: number;
  length: number;
  stored: number;
}

/**
 * The file that extracting a sparse member produces: `size` bytes, zeros
 * except the segments, which are read from `base` (the stored data).
 */
function sparseSource(
  base: ByteSource,
  segments: readonly Segment[],
  size: number,
): ByteSource {
  return {
    size,
    async read(offset: number, length: number): Promise<Buffer> {
      const start = Math.max(0, Math.min(offset, size));
      const end = Math.max(start, Math.min(offset + length, size));
      const out = Buffer.alloc(end - start);
      let lo = 0;
      let hi = segments.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const s = segments[mid] as Segment;
        if (s.offset + s.length <= start) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < segments.length; i++) {
        const s = segments[i] as Segment;
        if (s.offset >= end) break;
        const from = Math.max(start, s.offset);
        const to = Math.min(end, s.offset + s.length);
        const bytes = await base.read(s.stored + (from - s.offset), to - from);
        bytes.copy(out, from - start);
      }
      return out;
    },
  };
}

/** Member fields after extended headers are applied (tarfile's `_apply_pax_info` and `_proc_gnulong`). */
interface Resolved {
  name: string;
  linkname: string;
  paxSize?: number;
  /** Pax sparse keywords, in record order. */
  sparse: [string, string][];
}

const PAX_SPARSE = /^GNU\.sparse\./;
/**
 * The sparse 0.0 keywords as tarfile before 3.11.10 / 3.12.6 matches them:
 * a regular expression whose dots match any byte (`GNUxsparse.offset`).
 */
const LOOSE_OFFSET = /^GNU.sparse.offset$/s;
const LOOSE_NUMBYTES = /^GNU.sparse.numbytes$/s;

function applyPax(r: Resolved, records: Iterable<[string, string]>): void {
  for (const [k, v] of records) {
    if (k === 'path') r.name = v.replace(/\/+$/, '');
    else if (k === 'linkpath') r.linkname = v;
    else if (k === 'size') r.paxSize = paxInt(v) ?? 0;
    else if (k === 'GNU.sparse.name') r.name = v;
    if (PAX_SPARSE.test(k) || LOOSE_OFFSET.test(k) || LOOSE_NUMBYTES.test(k))
      r.sparse.push([k, v]);
  }
}

/** The pax keywords a member's reading depends on. */
const PAX_MEMBER_KEYS = [
  'path',
  'linkpath',
  'size',
  'GNU.sparse.name',
  'GNU.sparse.size',
  'GNU.sparse.realsize',
  'GNU.sparse.major',
  'GNU.sparse.minor',
  'GNU.sparse.map',
];

/**
 * The global records that matter to a member, looked up by key: global
 * headers can hold many records, and every member would otherwise walk them.
 */
function globalFields(global: ReadonlyMap<string, string>): [string, string][] {
  const out: [string, string][] = [];
  if (global.size === 0) return out;
  for (const k of PAX_MEMBER_KEYS) {
    const v = global.get(k);
    if (v !== undefined) out.push([k, v]);
  }
  return out;
}

function resolveMember(
  h: TarHeader,
  global: ReadonlyMap<string, string>,
  chain: readonly Meta[],
): Resolved {
  const r: Resolved = { name: h.name, linkname: h.linkname, sparse: [] };
  // tarfile applies global records first, then each extended header from the
  // one nearest the member outwards (so the first in the archive wins).
  applyPax(r, globalFields(global));
  for (let i = chain.length - 1; i >= 0; i--) {
    const m = chain[i] as Meta;
    if (m.kind === 'x') applyPax(r, m.records);
    else if (m.kind === 'L') r.name = m.text;
    else r.linkname = m.text;
  }
  if (h.type === '5') r.name = r.name.replace(/\/+$/, '');
  return r;
}

/** One walk over one tar archive. */
class TarWalk {
  private readonly reader: BlockReader;
  private readonly links = new LinkTracker();
  private readonly names = new Map<string, number>();
  private readonly visited = new Set<number>();
  private readonly alternatives: { offset: number; why: string }[] = [];
  private readonly global = new Map<string, string>();
  private globalBytes = 0;
  private headers = 0;
  private members = 0;
  private badHeaders = 0;
  private holeBytes = 0;
  private afterEndReported = false;

  constructor(
    private readonly source: ByteSource,
    private readonly ctx: ScanContext,
    /** Receives each member's bytes; default: `ctx.scanNested`. */
    private readonly onMember: (
      data: ByteSource,
      name: string,
    ) => Promise<void> = (data, name) => ctx.scanNested(data, name),
  ) {
    this.reader = new BlockReader(source);
  }

  private checkAborted(): void {
    if (this.ctx.signal?.aborted === true) throw new StopWalk('aborted');
  }

  private stop(limit: string, value: number, message: string): never {
    reportIncomplete(this.ctx, { limit, value, message });
    throw new StopWalk(limit);
  }

  private malformed(offset: number, message: string): void {
    this.ctx.report({
      ruleId: 'ARCHIVE_MALFORMED',
      severity: 'high',
      offset,
      message,
    });
  }

  /** Next offset at or after `from` holding a valid header, or undefined. */
  private async nextHeader(from: number): Promise<number | undefined> {
    for (let p = from; p + TAR_BLOCK <= this.source.size; p += TAR_BLOCK) {
      if ((p - from) % WINDOW === 0) this.checkAborted();
      const b = await this.reader.block(p);
      if (b[0] === 0 && isZeroBlock(b)) continue;
      if (!checksumOk(b)) continue;
      try {
        parseHeader(b);
        return p;
      } catch {
        continue;
      }
    }
    return undefined;
  }

  /** Reports an unreadable header and finds where to resume. */
  private async recover(
    offset: number,
    reason: string,
  ): Promise<number | undefined> {
    if (++this.badHeaders > MAX_TAR_BAD_HEADERS)
      this.stop(
        'maxTarBadHeaders',
        MAX_TAR_BAD_HEADERS,
        `tar with more than ${MAX_TAR_BAD_HEADERS} unreadable headers, rest of the archive`,
      );
    const resumed = await this.nextHeader(offset + TAR_BLOCK);
    reportIncomplete(this.ctx, {
      limit: 'tar-header',
      offset,
      message: `tar header at offset ${offset} cannot be read (${reason}); ${
        resumed === undefined
          ? 'no later header found, rest of the archive'
          : `bytes up to offset ${resumed}, where the walk resumed`
      }`,
      evidence: { reason, ...(resumed === undefined ? {} : { resumed }) },
    });
    return resumed;
  }

  private countHeader(): void {
    if (++this.headers > MAX_TAR_HEADERS)
      this.stop(
        'maxTarHeaders',
        MAX_TAR_HEADERS,
        `tar with more than ${MAX_TAR_HEADERS} header blocks, rest of the archive`,
      );
  }

  async run(): Promise<void> {
    try {
      await this.walk();
      await this.checkAlternatives();
    } catch (e) {
      if (!(e instanceof StopWalk)) throw e;
    }
  }

  private async walk(): Promise<void> {
    const size = this.source.size;
    let chain: Meta[] = [];
    let pos = 0;
    for (;;) {
      this.checkAborted();
      const block = await this.reader.block(pos);
      if (block.length === 0) return;
      if (block.length < TAR_BLOCK) {
        this.malformed(pos, `truncated tar header at offset ${pos}`);
        return;
      }
      if (isZeroBlock(block)) {
        const next = await this.afterEnd(pos);
        if (next === undefined) return;
        pos = next;
        chain = [];
        continue;
      }
      this.countHeader();
      let h: TarHeader;
      try {
        h = parseHeader(block);
      } catch (e) {
        chain = [];
        const resumed = await this.recover(pos, (e as Error).message);
        if (resumed === undefined) return;
        pos = resumed;
        continue;
      }
      this.visited.add(pos);
      const dataStart = pos + TAR_BLOCK;
      if (META_TYPES.has(h.type)) {
        const next = dataStart + blockCeil(h.size);
        if (h.size > MAX_TAR_META_BYTES) {
          reportIncomplete(this.ctx, {
            limit: 'maxTarMetaBytes',
            value: MAX_TAR_META_BYTES,
            offset: pos,
            message: `tar extended header '${h.type}' of ${h.size} bytes; the name, link and size it sets`,
            evidence: { type: h.type, size: h.size },
          });
          chain = [];
        }
        if (next > size) {
          this.malformed(
            pos,
            `tar extended header '${h.type}' at offset ${pos} runs past the end of the archive`,
          );
          return;
        }
        const meta =
          h.size > MAX_TAR_META_BYTES
            ? undefined
            : await this.readMeta(h, pos, dataStart);
        if (meta === undefined) {
          // Dropped (over a cap or unreadable, reported): the member after it
          // is still read, with its own header fields.
          chain = [];
        } else if (meta !== 'global') {
          if (chain.length >= MAX_TAR_META_CHAIN) {
            reportIncomplete(this.ctx, {
              limit: 'maxTarMetaChain',
              value: MAX_TAR_META_CHAIN,
              offset: pos,
              message: `more than ${MAX_TAR_META_CHAIN} extended tar headers in a row; their names and sizes`,
            });
            chain = [];
          } else {
            chain.push(meta);
          }
        }
        pos = next;
        continue;
      }
      const next = await this.member(h, pos, chain);
      chain = [];
      if (next === undefined || next > size) return;
      pos = next;
    }
  }

  /**
   * At an end-of-archive block: tarfile and GNU tar stop here. Readers that
   * skip zero blocks (`tar --ignore-zeros`, tar-stream) go on; a valid header
   * after the marker is reported and its members scanned.
   */
  private async afterEnd(pos: number): Promise<number | undefined> {
    let p = pos + TAR_BLOCK;
    for (; ; p += TAR_BLOCK) {
      if ((p - pos) % WINDOW === 0) this.checkAborted();
      const b = await this.reader.block(p);
      if (b.length < TAR_BLOCK) return undefined;
      if (!isZeroBlock(b)) break;
    }
    // `tar --ignore-zeros` also skips unreadable blocks to the next header.
    const found = await this.nextHeader(p);
    if (found === undefined) return undefined; // no reader takes the rest for a member
    p = found;
    if (!this.afterEndReported) {
      this.afterEndReported = true;
      this.ctx.report({
        ruleId: 'ARCHIVE_TAR_DIFFERENTIAL',
        severity: 'high',
        offset: p,
        message: `tar member header at offset ${p} after the end-of-archive marker: tarfile and GNU tar stop before it, \`tar --ignore-zeros\` and readers that skip zero blocks extract it`,
        evidence: { marker: pos, header: p },
      });
    }
    return p;
  }

  /** Reads an extended header's data: its parsed content, 'global' when merged into the global records, undefined when dropped. */
  private async readMeta(
    h: TarHeader,
    pos: number,
    dataStart: number,
  ): Promise<Meta | 'global' | undefined> {
    const data = await readRange(this.source, dataStart, h.size);
    if (h.type === 'L' || h.type === 'K')
      return { kind: h.type, text: nts(data, 0, data.length) };
    let records: [string, string][];
    try {
      records = parsePaxRecords(data);
    } catch (e) {
      reportIncomplete(this.ctx, {
        limit: 'tar-header',
        offset: pos,
        message: `pax header at offset ${pos} cannot be read (${(e as Error).message}); the name, link and size it sets`,
      });
      return undefined;
    }
    if (h.type !== 'g') return { kind: 'x', records };
    this.globalBytes += h.size;
    if (this.globalBytes > MAX_TAR_META_BYTES) {
      reportIncomplete(this.ctx, {
        limit: 'maxTarMetaBytes',
        value: MAX_TAR_META_BYTES,
        offset: pos,
        message: `pax global headers over ${MAX_TAR_META_BYTES} bytes in all; the names, links and sizes they set`,
      });
      return undefined;
    }
    for (const [k, v] of records) this.global.set(k, v);
    return 'global';
  }

  private addAlternative(offset: number, why: string): void {
    if (this.alternatives.length < MAX_ALTERNATIVE_OFFSETS)
      this.alternatives.push({ offset, why });
  }

  /** Handles one member; returns the offset of the next header (undefined: stop). */
  private async member(
    h: TarHeader,
    pos: number,
    chain: readonly Meta[],
  ): Promise<number | undefined> {
    const ctx = this.ctx;
    if (++this.members > MAX_ARCHIVE_ENTRIES)
      this.stop(
        'maxArchiveEntries',
        MAX_ARCHIVE_ENTRIES,
        `tar with more than ${MAX_ARCHIVE_ENTRIES} members, the rest`,
      );
    const r = resolveMember(h, this.global, chain);
    const type = h.type;
    const name = r.name;
    let dataStart = pos + TAR_BLOCK;
    const origDataStart = dataStart;
    const hasData = typeHasData(type);

    // Entry-name checks; GNU tar ignores the prefix field of GNU headers, so
    // the bare name is checked too.
    const normal = checkEntryName(ctx, name, this.links, pos);
    if (
      h.gnuMagic &&
      h.prefix !== '' &&
      chain.length === 0 &&
      h.rawName !== name
    )
      checkEntryName(ctx, h.rawName, new LinkTracker(), pos);
    const key = normal ?? name;
    if (type !== '5' && this.names.has(key)) {
      ctx.report({
        ruleId: 'ARCHIVE_DUPLICATE_ENTRY',
        severity: 'high',
        offset: pos,
        message: `entry ${name} appears more than once`,
        evidence: { name, first: this.names.get(key), index: this.members - 1 },
      });
    }
    this.names.set(key, this.members - 1);
    if (type === '2') checkSymlink(ctx, name, r.linkname, this.links, pos);
    else if (type === '1')
      checkHardlink(ctx, name, r.linkname, this.links, pos);
    else if (type === '3' || type === '4' || type === '6')
      ctx.report({
        ruleId: 'ARCHIVE_SPECIAL_FILE',
        severity: 'medium',
        offset: pos,
        message: `entry ${name} is a ${type === '3' ? 'character device' : type === '4' ? 'block device' : 'fifo'}`,
        evidence: { name, type },
      });
    else if (!isKnownType(type))
      ctx.report({
        ruleId: 'ARCHIVE_TAR_QUIRK',
        severity: 'low',
        offset: pos,
        message: `entry ${name} has the unknown type ${JSON.stringify(type)}; tarfile and GNU tar extract it as a regular file, and it is scanned as one`,
        evidence: { name, type: type.charCodeAt(0) },
      });

    if (!hasData) {
      // tarfile reads the next header right after this one. GNU tar does too
      // for directories and hard links, but skips `size` bytes after
      // symlinks and devices; tar-stream and node-tar always skip them.
      if (h.size > 0) {
        const kind =
          type === '5'
            ? 'directory'
            : type === '1'
              ? 'hard link'
              : type === '2'
                ? 'symlink'
                : 'device';
        const gnuIgnores = type === '5' || type === '1';
        ctx.report({
          ruleId: 'ARCHIVE_TAR_QUIRK',
          severity: gnuIgnores ? 'info' : 'low',
          offset: pos,
          message: `${kind} entry ${name} declares ${h.size} bytes of data; tarfile ${gnuIgnores ? 'and GNU tar ignore them' : 'ignores them, GNU tar skips them'}`,
          evidence: { name, size: h.size, type },
        });
        this.addAlternative(
          dataStart + blockCeil(h.size),
          `skips the ${h.size} bytes that the ${kind} entry ${name} declares`,
        );
      }
      return dataStart;
    }

    // Sparse maps.
    let segments: [number, number][] | undefined;
    let realSize: number | undefined;
    let stored = r.paxSize ?? h.size;
    if (h.sparse !== undefined) {
      segments = h.sparse.structs.filter(([, n]) => n > 0);
      realSize = h.sparse.realSize;
      let extended = h.sparse.extended;
      while (extended) {
        this.countHeader();
        const b = await this.reader.block(dataStart);
        let ext;
        try {
          ext = parseSparseExtension(b);
        } catch (e) {
          const resumed = await this.recover(dataStart, (e as Error).message);
          return resumed;
        }
        segments.push(...ext.structs);
        if (segments.length > MAX_TAR_SPARSE_SEGMENTS)
          this.stop(
            'maxTarSparseSegments',
            MAX_TAR_SPARSE_SEGMENTS,
            `sparse tar member ${name} with more than ${MAX_TAR_SPARSE_SEGMENTS} segments, it and the rest of the archive`,
          );
        extended = ext.extended;
        dataStart += TAR_BLOCK;
      }
      stored = r.paxSize ?? h.size;
    } else if (r.sparse.length > 0) {
      const parsed = await this.paxSparse(r, name, pos, dataStart, h.size);
      if (parsed === 'stop') return undefined;
      if (parsed !== undefined) {
        segments = parsed.segments;
        realSize = parsed.realSize;
        dataStart = parsed.dataStart;
        stored =
          r.paxSize ?? Math.max(0, h.size - (parsed.dataStart - origDataStart));
      }
    }

    // tarfile: the size counts from after the old-sparse extension blocks,
    // and (pax sizes) from after a sparse 1.0 map.
    const next =
      r.paxSize !== undefined
        ? dataStart + blockCeil(r.paxSize)
        : (h.sparse !== undefined ? dataStart : origDataStart) +
          blockCeil(h.size);
    if (r.paxSize !== undefined && h.size !== 0 && h.size !== r.paxSize)
      this.addAlternative(
        origDataStart + blockCeil(h.size),
        `ignores the pax size of ${name} (${r.paxSize}) and uses the header's (${h.size})`,
      );

    // GNU.sparse.size or .realsize with no sparse map tarfile applies: it
    // takes the member's size from them (_apply_pax_info) but the next
    // header's place from the header's size, so the member reads over the
    // headers and padding after it. Scanned to the longer of the two.
    let readable = stored;
    if (segments === undefined) {
      for (const [k, v] of r.sparse) {
        if (k !== 'GNU.sparse.size' && k !== 'GNU.sparse.realsize') continue;
        const n = paxInt(v);
        if (n === undefined || n === stored) continue;
        this.ctx.report({
          ruleId: 'ARCHIVE_TAR_DIFFERENTIAL',
          severity: 'high',
          offset: pos,
          message: `tar member ${name}: tarfile reads ${n} bytes (${k}, no sparse map), GNU tar ${stored}`,
          evidence: { name, keyword: k, tarfile: n, header: stored },
        });
        readable = Math.max(readable, n);
      }
    }
    const available = Math.max(0, this.source.size - dataStart);
    if (stored > available)
      this.malformed(
        pos,
        `tar member ${name} declares ${stored} bytes but only ${available} follow; tarfile refuses it`,
      );
    const data = sliceSource(
      this.source,
      dataStart,
      Math.min(readable, available),
    );
    if (segments !== undefined && realSize !== undefined)
      await this.scanSparse(name, pos, data, segments, realSize);
    else if (data.size > 0) await this.onMember(data, name);
    return stored > available ? undefined : next;
  }

  /**
   * Pax sparse formats: 0.1 (`GNU.sparse.map`), 0.0 (repeated
   * `GNU.sparse.offset`/`numbytes`), 1.0 (a map at the start of the data).
   */
  private async paxSparse(
    r: Resolved,
    name: string,
    pos: number,
    dataStart: number,
    headerSize: number,
  ): Promise<
    | { segments: [number, number][]; realSize: number; dataStart: number }
    | 'stop'
    | undefined
  > {
    const get = (k: string): string | undefined => {
      let v: string | undefined;
      for (const [key, value] of r.sparse) if (key === k) v = value;
      return v;
    };
    const fail = (why: string): undefined => {
      reportIncomplete(this.ctx, {
        limit: 'tar-sparse-map',
        offset: pos,
        message: `sparse map of tar member ${name} cannot be read (${why}); the member is scanned as stored`,
      });
      return undefined;
    };
    const pairs = (nums: number[]): [number, number][] => {
      const out: [number, number][] = [];
      for (let i = 0; i + 1 < nums.length; i += 2)
        out.push([nums[i] as number, nums[i + 1] as number]);
      return out;
    };
    const map = get('GNU.sparse.map');
    const size0 = get('GNU.sparse.size');
    if (map !== undefined || size0 !== undefined) {
      const realSize = paxInt(size0 ?? get('GNU.sparse.realsize') ?? '');
      if (realSize === undefined) return fail('no real size');
      let nums: number[];
      if (map !== undefined) {
        const parts = map.split(',');
        if (parts.length > 2 * MAX_TAR_SPARSE_SEGMENTS)
          return fail(`more than ${MAX_TAR_SPARSE_SEGMENTS} segments`);
        nums = parts.map((p) => paxInt(p) ?? Number.NaN);
      } else {
        const offsets = r.sparse
          .filter(([k]) => LOOSE_OFFSET.test(k))
          .map(([, v]) => paxInt(v) ?? Number.NaN);
        const counts = r.sparse
          .filter(([k]) => LOOSE_NUMBYTES.test(k))
          .map(([, v]) => paxInt(v) ?? Number.NaN);
        nums = [];
        for (let i = 0; i < Math.min(offsets.length, counts.length); i++)
          nums.push(offsets[i] as number, counts[i] as number);
      }
      if (nums.some((n) => !Number.isSafeInteger(n) || n < 0))
        return fail('a number is not valid');
      return { segments: pairs(nums), realSize, dataStart };
    }
    if (get('GNU.sparse.major') !== '1' || get('GNU.sparse.minor') !== '0')
      return undefined; // not a sparse format tarfile knows: a plain member
    const realSize = paxInt(
      get('GNU.sparse.realsize') ?? get('GNU.sparse.size') ?? '',
    );
    if (realSize === undefined) return fail('no real size');
    // The map: decimal numbers, one per line, count first, padded to a block.
    const limitBytes = Math.min(
      headerSize,
      blockCeil((2 * MAX_TAR_SPARSE_SEGMENTS + 1) * 21),
    );
    const nums: number[] = [];
    let count: number | undefined;
    let text = '';
    let p = dataStart;
    for (;;) {
      if (p - dataStart >= limitBytes)
        return count !== undefined && count > MAX_TAR_SPARSE_SEGMENTS
          ? this.stop(
              'maxTarSparseSegments',
              MAX_TAR_SPARSE_SEGMENTS,
              `sparse tar member ${name} with more than ${MAX_TAR_SPARSE_SEGMENTS} segments, it and the rest of the archive`,
            )
          : fail('map runs past the member');
      const b = await this.reader.block(p);
      if (b.length < TAR_BLOCK) return fail('map runs past the archive');
      p += TAR_BLOCK;
      text += b.toString('latin1');
      const lines = text.split('\n');
      text = lines.pop() as string;
      for (const line of lines) {
        if (!/^\d{1,20}$/.test(line)) return fail('a number is not valid');
        const n = Number(line);
        if (!Number.isSafeInteger(n)) return fail('a number is out of range');
        if (count === undefined) {
          count = n;
          if (count > MAX_TAR_SPARSE_SEGMENTS)
            this.stop(
              'maxTarSparseSegments',
              MAX_TAR_SPARSE_SEGMENTS,
              `sparse tar member ${name} with more than ${MAX_TAR_SPARSE_SEGMENTS} segments, it and the rest of the archive`,
            );
        } else nums.push(n);
        if (count !== undefined && nums.length >= 2 * count)
          return { segments: pairs(nums), realSize, dataStart: p };
      }
      if (text.length > 21) return fail('a number is not valid');
    }
  }

  /** Scans a sparse member as the file extraction produces. */
  private async scanSparse(
    name: string,
    pos: number,
    data: ByteSource,
    pairs: [number, number][],
    realSize: number,
  ): Promise<void> {
    const ctx = this.ctx;
    const segments: Segment[] = [];
    let storedPos = 0;
    let end = 0;
    let problem: string | undefined;
    for (const [offset, length] of pairs) {
      if (length === 0) continue;
      if (offset < end) problem = 'segments overlap or are out of order';
      else if (offset + length > realSize)
        problem = 'a segment lies past the real size';
      segments.push({ offset, length, stored: storedPos });
      storedPos += length;
      end = offset + length;
    }
    if (problem === undefined && storedPos > data.size)
      problem = `the segments need ${storedPos} stored bytes, ${data.size} present`;
    if (problem !== undefined) {
      reportIncomplete(ctx, {
        limit: 'tar-sparse-map',
        offset: pos,
        message: `sparse tar member ${name} cannot be laid out (${problem}); it is scanned as stored`,
      });
      if (data.size > 0) await this.onMember(data, name);
      return;
    }
    const holes = realSize - storedPos;
    this.holeBytes += holes;
    if (
      this.holeBytes > ctx.limits.maxExpandedBytes ||
      !(ctx.reserveExpanded?.(holes) ?? true)
    ) {
      ctx.report({
        ruleId: 'ARCHIVE_DECOMPRESSION_BOMB',
        severity: 'high',
        offset: pos,
        message: `sparse tar member ${name} expands to ${realSize} bytes from ${storedPos} stored`,
        evidence: { name, realSize, stored: storedPos },
      });
      reportIncomplete(ctx, {
        limit: 'maxExpandedBytes',
        value: ctx.limits.maxExpandedBytes,
        offset: pos,
        message: `sparse tar member ${name} as extracted; its stored bytes are scanned as stored`,
      });
      if (data.size > 0) await this.onMember(data, name);
      return;
    }
    if (realSize > 0)
      await this.onMember(sparseSource(data, segments, realSize), name);
  }

  /**
   * Offsets where readers that skip directory data or ignore pax sizes look
   * for the next header: a valid header there that this walk never read is a
   * member those readers extract and tarfile does not. Reported high, and
   * its data scanned.
   */
  private async checkAlternatives(): Promise<void> {
    for (const { offset, why } of this.alternatives) {
      // Follow the other reader's walk from here until it meets a header
      // this walk read (the two views agree again) or stops.
      let p = offset;
      let reported = false;
      let steps = 0;
      while (!this.visited.has(p) && steps++ < MAX_ALTERNATIVE_OFFSETS) {
        this.checkAborted();
        const b = await this.reader.block(p);
        if (b.length < TAR_BLOCK || isZeroBlock(b)) break;
        let h: TarHeader;
        try {
          h = parseHeader(b);
        } catch {
          break;
        }
        this.visited.add(p);
        if (!reported) {
          reported = true;
          this.ctx.report({
            ruleId: 'ARCHIVE_TAR_DIFFERENTIAL',
            severity: 'high',
            offset: p,
            message: `a tar reader that ${why} finds a member header (${h.name}) at offset ${p} that tarfile does not read`,
            evidence: { header: p, name: h.name },
          });
        }
        if (typeHasData(h.type) && !META_TYPES.has(h.type) && h.size > 0)
          await this.onMember(
            sliceSource(this.source, p + TAR_BLOCK, h.size),
            h.name,
          );
        // Such readers skip the declared size of every entry.
        p += TAR_BLOCK + blockCeil(h.size);
      }
    }
  }
}

/** Walks a tar archive held in `source` (see the module comment). */
export async function walkTar(
  source: ByteSource,
  ctx: ScanContext,
): Promise<void> {
  await new TarWalk(source, ctx).run();
}

/** A member of a tar as {@link listTarMembers} gives it. */
export interface TarMemberBytes {
  /** Name after extended headers (as tarfile gives it). */
  name: string;
  /** The member's bytes as extraction produces them (sparse holes as zeros). */
  source: ByteSource;
}

/**
 * The members with data of a tar, read as the tar scanner reads them (for
 * formats built on tar, such as legacy PyTorch files): what tarfile
 * extracts, plus members other tar readers see; structural findings (names,
 * links, unreadable headers, caps) are reported to `ctx`.
 */
export async function listTarMembers(
  source: ByteSource,
  ctx: ScanContext,
): Promise<TarMemberBytes[]> {
  const members: TarMemberBytes[] = [];
  await new TarWalk(source, ctx, (data, name) => {
    members.push({ name, source: data });
    return Promise.resolve();
  }).run();
  return members;
}

function detectTar(head: Buffer): boolean {
  return isTarHeader(head.subarray(0, TAR_BLOCK));
}

function detectGzip(head: Buffer): boolean {
  return (
    head.length >= 10 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 8
  );
}

/** Scanner for tar archives (`threats.md` §7). */
export const TarArchiveScanner: FormatScanner = Object.freeze({
  id: 'tar',
  detect: detectTar,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('tar');
    await walkTar(source, ctx);
  },
});

// ---------------------------------------------------------------- gzip

const CHUNK = 1024 * 1024;

class ExpansionLimit extends Error {
  constructor(readonly produced: number) {
    super('expansion limit');
  }
}

function sourceStream(source: ByteSource): Readable {
  return Readable.from(
    (async function* chunks(): AsyncGenerator<Buffer> {
      for (let pos = 0; pos < source.size;) {
        const chunk = await source.read(
          pos,
          Math.min(CHUNK, source.size - pos),
        );
        if (chunk.length === 0) return;
        pos += chunk.length;
        yield chunk;
      }
    })(),
  );
}

/** Counts bytes flowing through and fails the stream past `limit`. */
function limiter(limit: number): Transform & { produced: number } {
  const stream = new Transform({
    transform(
      chunk: Buffer,
      _encoding: BufferEncoding,
      callback: TransformCallback,
    ): void {
      stream.produced += chunk.length;
      if (stream.produced > limit)
        callback(new ExpansionLimit(stream.produced));
      else callback(null, chunk);
    },
  }) as Transform & { produced: number };
  stream.produced = 0;
  return stream;
}

/** Name of the original file from the gzip header (FNAME), if any. */
function gzipMemberName(head: Buffer): string {
  const flags = head[3] as number;
  if ((flags & 0x08) === 0) return '(gunzipped)';
  let p = 10;
  if ((flags & 0x04) !== 0) p += 2 + head.readUInt16LE(10);
  const end = head.indexOf(0, p);
  const name =
    end < 0 ? '' : head.toString('latin1', p, Math.min(end, p + 255));
  return name === '' || /[/\\]/.test(name) ? '(gunzipped)' : name;
}

/**
 * Scanner for gzip streams: inflated as a stream into memory, at most
 * `min(maxMemberBytes, maxExpandedBytes)` bytes; a tar inside is walked as a
 * tar (tar.gz), any other content is scanned as one nested artifact.
 */
export const GzipScanner: FormatScanner = Object.freeze({
  id: 'gzip',
  detect: detectGzip,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('gzip');
    const head = await source.read(0, Math.min(source.size, 4096));
    const cap = Math.min(
      ctx.limits.maxMemberBytes,
      ctx.limits.maxExpandedBytes,
    );
    const expansion = limiter(cap);
    const gunzip = createGunzip();
    const raw = sourceStream(source);
    raw.on('error', (error) => gunzip.destroy(error));
    gunzip.on('error', (error) => expansion.destroy(error));
    const inflated = raw.pipe(gunzip).pipe(expansion);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of inflated) {
        if (ctx.signal?.aborted === true) {
          inflated.destroy();
          return;
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      inflated.destroy();
      if (error instanceof ExpansionLimit) {
        const limitName =
          cap === ctx.limits.maxMemberBytes
            ? 'maxMemberBytes'
            : 'maxExpandedBytes';
        if (error.produced / Math.max(1, source.size) > BOMB_RATIO)
          ctx.report({
            ruleId: 'ARCHIVE_DECOMPRESSION_BOMB',
            severity: 'high',
            message: `gzip stream expands past ${cap} bytes from ${source.size}`,
            evidence: { limit: cap, compressedBytes: source.size },
          });
        reportIncomplete(ctx, {
          limit: limitName,
          value: cap,
          message: `gzip stream past ${cap} decompressed bytes`,
          evidence: { compressedBytes: source.size },
        });
        return;
      }
      ctx.report({
        ruleId: 'ARCHIVE_MALFORMED',
        severity: 'high',
        message: `invalid or truncated gzip: ${error instanceof Error ? error.message : String(error)}; ${chunks.reduce((n, c) => n + c.length, 0)} decoded bytes scanned`,
      });
    }
    const data = Buffer.concat(chunks);
    if (isTarHeader(data.subarray(0, TAR_BLOCK))) {
      ctx.recognise('tar');
      await walkTar(bufferSource(data), ctx);
      return;
    }
    if (data.length > 0)
      await ctx.scanNested(bufferSource(data), gzipMemberName(head));
  },
});
