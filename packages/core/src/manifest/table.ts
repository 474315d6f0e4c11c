// SPDX-License-Identifier: Apache-2.0
/**
 * Compact tables of files and resources, so that a model of 200,000 files
 * is held in a few bytes a file rather than as objects and strings (issue 12
 * item 6, issue 11 item 4). Names live in one UTF-8 arena, sizes and ranges
 * in typed arrays, digests as raw bytes. Nothing here survives a garbage
 * collection per file, which also keeps V8's young generation from growing
 * to its maximum (objects that survive make it grow; 128 MiB on Node 24).
 *
 * The public `Manifest.resources` array is made from a table only when a
 * caller reads it ({@link manifestFromTable}); the engine itself (root digest,
 * statement encoding, comparison) works on the table.
 */
import { createHash } from 'node:crypto';
import { algorithmName, digestHexLength } from './algorithms.js';
import {
  changedResource,
  compareResult,
  unsignedShard,
} from './compare-result.js';
import { shardName } from './names.js';
import type {
  ChangedResource,
  CompareResult,
  Manifest,
  Resource,
  Serialization,
} from './types.js';

const SLASH = 0x2f;

/** Each byte's value as a hex digit (either case); -1 for any other byte. */
export const HEX_VALUE: Int8Array = (() => {
  const table = new Int8Array(256).fill(-1);
  for (let d = 0; d < 10; d++) table[0x30 + d] = d;
  for (let d = 0; d < 6; d++) {
    table[0x41 + d] = 10 + d;
    table[0x61 + d] = 10 + d;
  }
  return table;
})();

/**
 * A growable list of UTF-8 names in one arena. The arena and the offsets
 * double as they fill and are never trimmed: the unused half is memory
 * never written (not resident), while a trimmed copy was: at 200,000 files,
 * trimming cost 2-4 MB of the peak.
 */
export class NameList {
  private arena: Buffer;
  private ends: Uint32Array;
  private used = 0;
  /** How many names. */
  count = 0;

  /** Bytes of all the names' UTF-8. */
  get byteLength(): number {
    return this.used;
  }

  /**
   * @param names - how many names to make room for at first
   * @param bytes - how many bytes of names to make room for at first (both
   *   grow as needed: a decoded statement sizes them from its bytes, so that
   *   200,000 names are not copied through a dozen doublings)
   */
  constructor(names = 256, bytes = 4096) {
    this.arena = Buffer.allocUnsafe(Math.max(bytes, 64));
    this.ends = new Uint32Array(Math.max(names, 16));
  }

  /** Adds a name (a string, or its UTF-8 bytes) and returns its index. */
  push(name: string | Uint8Array): number {
    const length =
      typeof name === 'string' ? Buffer.byteLength(name) : name.byteLength;
    if (this.used + length > this.arena.length) this.grow(length);
    if (typeof name === 'string') this.arena.write(name, this.used, 'utf8');
    else this.arena.set(name, this.used);
    return this.ended(length);
  }

  /**
   * Adds the name whose UTF-8 bytes are `source[start, end)` and returns its
   * index: {@link push} without a view made of them (a statement decoded
   * from its bytes adds 200,000 names this way).
   */
  pushRange(source: Uint8Array, start: number, end: number): number {
    const length = end - start;
    if (this.used + length > this.arena.length) this.grow(length);
    // A loop, not `set` of a subarray: no view object made per name.
    const arena = this.arena;
    for (let k = 0, at = this.used; k < length; k++)
      arena[at + k] = source[start + k]!;
    return this.ended(length);
  }

  private grow(length: number): void {
    let size = this.arena.length * 2;
    while (size < this.used + length) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.arena.copy(next, 0, 0, this.used);
    this.arena = next;
  }

  private ended(length: number): number {
    this.used += length;
    if (this.count === this.ends.length) {
      const next = new Uint32Array(this.ends.length * 2);
      next.set(this.ends);
      this.ends = next;
    }
    this.ends[this.count] = this.used;
    return this.count++;
  }

  private startOf(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]!;
  }

  /** The UTF-8 bytes of name `i` (a view into the arena). */
  bytes(i: number): Buffer {
    return this.arena.subarray(this.startOf(i), this.ends[i]);
  }

  /** Name `i` as a string. */
  get(i: number): string {
    return this.arena.toString('utf8', this.startOf(i), this.ends[i]);
  }

  /**
   * Compares name `i` with name `j` of `other` in the reference order
   * (order.ts): UTF-8 bytes, `/` before every other byte, a prefix first.
   */
  compare(i: number, other: NameList, j: number): number {
    const a = this.arena;
    const b = other.arena;
    let x = this.startOf(i);
    let y = other.startOf(j);
    const xe = this.ends[i]!;
    const ye = other.ends[j]!;
    while (x < xe && y < ye) {
      const p = a[x]!;
      const q = b[y]!;
      if (p !== q) return (p === SLASH ? -1 : p) - (q === SLASH ? -1 : q);
      x++;
      y++;
    }
    return xe - x - (ye - y);
  }
}

/** The files of a model: relative names, sizes, how each is opened. */
export class FileTable {
  readonly names: NameList;
  private sizes: Float64Array;
  private flags: Uint8Array;
  /** Files read from another path (a Hugging Face cache blob): index → absolute path. */
  private blobs: Map<number, string> | undefined;
  /**
   * When set, file `i` is entry `order[i]` of the arrays (a sorted view of
   * the same data: sorting 200,000 files copies no name).
   */
  order: Uint32Array | undefined;

  /**
   * @param root - absolute path of the model (the file itself for a one-file model)
   * @param singleFile - the model is the file `root` (its one entry opens `root`, whatever it is named)
   * @param room - how many files and bytes of names to make room for at
   *   first (the table grows past them as needed)
   */
  constructor(
    readonly root: string,
    readonly singleFile = false,
    room?: { files: number; nameBytes: number },
  ) {
    const files = Math.max(room?.files ?? 0, 256);
    this.names = new NameList(files, Math.max(room?.nameBytes ?? 0, 4096));
    this.sizes = new Float64Array(files);
    this.flags = new Uint8Array(files);
  }

  /** How many files. */
  get length(): number {
    return this.names.count;
  }

  /** Adds a file; `blob` is the absolute path to read instead of root/name. */
  add(
    name: string | Uint8Array,
    size: number,
    viaSymlink: boolean,
    blob?: string,
  ): void {
    const i = this.names.push(name);
    if (i === this.sizes.length) {
      const sizes = new Float64Array(this.sizes.length * 2);
      sizes.set(this.sizes);
      this.sizes = sizes;
      const flags = new Uint8Array(this.flags.length * 2);
      flags.set(this.flags);
      this.flags = flags;
    }
    this.sizes[i] = size;
    this.flags[i] = viaSymlink ? 1 : 0;
    if (blob !== undefined) (this.blobs ??= new Map()).set(i, blob);
  }

  /** Where file `i` is stored (its index in `names`). */
  entry(i: number): number {
    return this.order === undefined ? i : this.order[i]!;
  }

  /** Name of file `i`, relative to the root (`.` for a one-file model). */
  name(i: number): string {
    return this.names.get(this.entry(i));
  }

  size(i: number): number {
    return this.sizes[this.entry(i)]!;
  }

  /** Reached through a symlink (then opened following it). */
  viaSymlink(i: number): boolean {
    return this.flags[this.entry(i)] === 1;
  }

  /**
   * The absolute path to open, as a string: names are valid UTF-8 (the walk
   * refuses others), so it encodes to exactly the bytes on disk.
   */
  pathString(i: number): string {
    const e = this.entry(i);
    const blob = this.blobs?.get(e);
    if (blob !== undefined) return blob;
    if (this.singleFile) return this.root;
    return `${this.root}/${this.names.get(e)}`;
  }

  /** True when the files are in the reference order (order.ts). */
  inOrder(): boolean {
    for (let i = 1; i < this.length; i++)
      if (this.names.compare(this.entry(i - 1), this.names, this.entry(i)) > 0)
        return false;
    return true;
  }

  /** This table in the reference order (order.ts): a view of the same arrays. */
  sorted(): FileTable {
    const order = new Uint32Array(this.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const names = this.names;
    order.sort((a, b) => names.compare(a, names, b));
    this.order = order;
    return this;
  }

  /** A one-entry copy of a one-file model's table with its file named `name`. */
  renamed(name: string): FileTable {
    const out = new FileTable(this.root, this.singleFile);
    out.add(
      name,
      this.size(0),
      this.viaSymlink(0),
      this.blobs?.get(this.entry(0)),
    );
    return out;
  }
}

/** The parts of a serialization that decide resource names and digests. */
export type TableSerialization = Pick<
  Serialization,
  'method' | 'hashType' | 'shardSize'
>;

/**
 * The resources of a manifest: path names, shard ranges, digests as bytes.
 * Resource `i` is path `pathIndex(i)` of `paths` (files: path `i`).
 */
export class ResourceTable {
  readonly digestLength: number;
  readonly digests: Uint8Array;
  /** `digests` as a Buffer (one view, not one per call). */
  private readonly digestBytes: Buffer;
  /** Shards: the file (path) of each resource. */
  readonly fileOf: Uint32Array | undefined;
  readonly start: Float64Array | undefined;
  readonly end: Float64Array | undefined;
  /** Shards: 1 where the resource was written with the plain hash name (the spec's spelling). */
  readonly plain: Uint8Array | undefined;
  /** The algorithm name of every resource (`sha256`, `sha256-sharded-N`). */
  readonly algorithm: string;

  /**
   * @param pathOrder - file `f` is entry `pathOrder[f]` of `paths` (a sorted
   *   {@link FileTable}'s `order`)
   */
  constructor(
    readonly serialization: TableSerialization,
    readonly paths: NameList,
    readonly count: number,
    readonly pathOrder?: Uint32Array | undefined,
    /** A larger table's arrays to take the first `count` of (views, not copies). */
    from?: ResourceTable,
  ) {
    this.digestLength = digestHexLength(serialization.hashType) / 2;
    this.digests =
      from?.digests.subarray(0, count * this.digestLength) ??
      new Uint8Array(count * this.digestLength);
    this.digestBytes = Buffer.from(
      this.digests.buffer,
      this.digests.byteOffset,
      this.digests.byteLength,
    );
    this.algorithm = algorithmName(serialization);
    if (serialization.method === 'shards') {
      this.fileOf = from?.fileOf?.subarray(0, count) ?? new Uint32Array(count);
      this.start = from?.start?.subarray(0, count) ?? new Float64Array(count);
      this.end = from?.end?.subarray(0, count) ?? new Float64Array(count);
      this.plain = from?.plain?.subarray(0, count) ?? new Uint8Array(count);
    } else {
      this.fileOf = undefined;
      this.start = undefined;
      this.end = undefined;
      this.plain = undefined;
    }
  }

  /** The file of resource `i` (its index in the file table). */
  file(i: number): number {
    return this.fileOf === undefined ? i : this.fileOf[i]!;
  }

  /** Index in `paths` of resource `i`. */
  pathIndex(i: number): number {
    const f = this.fileOf === undefined ? i : this.fileOf[i]!;
    return this.pathOrder === undefined ? f : this.pathOrder[f]!;
  }

  /** The resource name: the path, or `path:start:end` for a shard. */
  name(i: number): string {
    const path = this.paths.get(this.pathIndex(i));
    return this.start === undefined
      ? path
      : shardName(path, this.start[i]!, this.end![i]!);
  }

  /** The algorithm as written in the manifest. */
  algorithmOf(i: number): string {
    return this.plain?.[i] === 1 ? this.serialization.hashType : this.algorithm;
  }

  digestHex(i: number): string {
    const n = this.digestLength;
    return this.digestBytes.toString('hex', i * n, i * n + n);
  }

  /**
   * Stores the digest of resource `i` from its hex text given as bytes
   * (`source[start, …)`, two characters a byte, already checked to be hex).
   */
  setDigestFromHexBytes(i: number, source: Uint8Array, start: number): void {
    const out = this.digests;
    const n = this.digestLength;
    for (let k = 0, o = i * n, at = start; k < n; k++, at += 2)
      out[o + k] = (HEX_VALUE[source[at]!]! << 4) | HEX_VALUE[source[at + 1]!]!;
  }

  /** Stores the digest of resource `i` from its hex text. */
  setDigestHex(i: number, hex: string): void {
    this.digestBytes.write(
      hex,
      i * this.digestLength,
      this.digestLength,
      'hex',
    );
  }

  resource(i: number): Resource {
    return {
      name: this.name(i),
      algorithm: this.algorithmOf(i),
      digest: this.digestHex(i),
    };
  }

  toResources(): Resource[] {
    const out = new Array<Resource>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.resource(i);
    return out;
  }

  /** SHA-256 over the digests' bytes in table order (root-digest.ts). */
  rootDigest(): string {
    return createHash('sha256')
      .update(this.digests.subarray(0, this.count * this.digestLength))
      .digest('hex');
  }

  /** Compares resources `i` of this table and `j` of `other` in the reference order. */
  compare(i: number, other: ResourceTable, j: number): number {
    const c = this.paths.compare(
      this.pathIndex(i),
      other.paths,
      other.pathIndex(j),
    );
    if (c !== 0 || this.start === undefined || other.start === undefined)
      return c;
    return this.start[i]! - other.start[j]! || this.end![i]! - other.end![j]!;
  }

  /**
   * The index of the `k`-th resource in the reference order. A table
   * already in that order (the usual case) needs no array of one index per
   * resource: the identity.
   */
  inOrder(): (k: number) => number {
    let sorted = true;
    for (let i = 1; i < this.count && sorted; i++)
      if (this.compare(i - 1, this, i) > 0) sorted = false;
    if (sorted) return (k) => k;
    const order = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) order[i] = i;
    order.sort((a, b) => this.compare(a, this, b));
    return (k) => order[k]!;
  }

  /** True when resource `i`'s digest is the one `hex` spells (either case). */
  digestIs(i: number, hex: string): boolean {
    const n = this.digestLength;
    if (hex.length !== 2 * n || SCRATCH.write(hex, 0, n, 'hex') !== n)
      return false;
    return SCRATCH.compare(this.digestBytes, i * n, i * n + n, 0, n) === 0;
  }

  /** True when resources `i` and `j` of the two tables have the same digest bytes. */
  sameDigest(i: number, other: ResourceTable, j: number): boolean {
    const n = this.digestLength;
    if (n !== other.digestLength) return false;
    const a = this.digests;
    const b = other.digests;
    for (let k = 0; k < n; k++) if (a[i * n + k] !== b[j * n + k]) return false;
    return true;
  }
}

/** Room for one digest of any algorithm (SHA-512: 64 bytes). */
const SCRATCH = Buffer.alloc(64);

const TABLE = Symbol('modelseal.resourceTable');

interface TableBacked {
  [TABLE]?: () => ResourceTable | undefined;
}

/**
 * A manifest whose `resources` array is made from `table` the first time it
 * is read (an ordinary, enumerable, assignable property to its users).
 */
export function manifestFromTable(
  modelName: string,
  serialization: Serialization,
  table: ResourceTable,
  rootDigest: string = table.rootDigest(),
): Manifest {
  let resources: Resource[] | undefined;
  const manifest = { modelName, serialization } as Manifest & TableBacked;
  Object.defineProperty(manifest, 'resources', {
    enumerable: true,
    configurable: true,
    get: () => (resources ??= table.toResources()),
    set: (value: Resource[]) => {
      resources = value;
    },
  });
  manifest.rootDigest = rootDigest;
  // Once the array exists a caller may have changed it: it is then the truth.
  Object.defineProperty(manifest, TABLE, {
    value: () => (resources === undefined ? table : undefined),
  });
  return manifest;
}

/** The table behind a manifest, when its `resources` array was never made. */
export function tableOf(manifest: Manifest): ResourceTable | undefined {
  return (manifest as TableBacked)[TABLE]?.();
}

/** How many resources a manifest has, without making its array. */
export function resourceCount(manifest: Manifest): number {
  return tableOf(manifest)?.count ?? manifest.resources.length;
}

/**
 * One pass over both tables in the reference order: `pair` gets each signed
 * row with the row of `actual` of the same name, either one `undefined` when
 * the other table has no such name. A row of `actual` alone comes with
 * `ofSignedFile`: both tables are shards and its file has a signed shard
 * (compare.ts: then a changed file, not an unsigned one).
 */
function joinTables(
  signed: ResourceTable,
  actual: ResourceTable,
  pair: (
    s: number | undefined,
    a: number | undefined,
    ofSignedFile: boolean,
  ) => void,
): void {
  const so = signed.inOrder();
  const ao = actual.inOrder();
  const shards = signed.start !== undefined && actual.start !== undefined;
  // The rows of one path are together in the reference order (path first,
  // then the range): a signed shard of an unsigned row's file is the signed
  // row just before it or just after it. Only rows alone look.
  const samePath = (s: number | undefined, a: number): boolean =>
    s !== undefined &&
    signed.paths.compare(
      signed.pathIndex(s),
      actual.paths,
      actual.pathIndex(a),
    ) === 0;
  let last: number | undefined;
  let i = 0;
  let j = 0;
  while (i < signed.count || j < actual.count) {
    const s = i < signed.count ? so(i) : undefined;
    const a = j < actual.count ? ao(j) : undefined;
    const c =
      s === undefined ? 1 : a === undefined ? -1 : signed.compare(s, actual, a);
    if (c < 0) {
      pair(s, undefined, false);
      last = s;
      i++;
    } else if (c > 0) {
      pair(undefined, a, shards && (samePath(last, a!) || samePath(s, a!)));
      j++;
    } else {
      pair(s, a, false);
      last = s;
      i++;
      j++;
    }
  }
}

/**
 * Compares a signed table with one computed from disk (compare.ts has the
 * rules): one pass over both in the reference order; only the differences
 * become objects.
 */
export function compareTables(
  signed: ResourceTable,
  actual: ResourceTable,
  ignoreUnsignedFiles: boolean,
): CompareResult {
  const missing: Resource[] = [];
  const extra: Resource[] = [];
  const changed: ChangedResource[] = [];
  const sameAlgorithm = signed.algorithm === actual.algorithm;
  joinTables(signed, actual, (s, a, ofSignedFile) => {
    if (a === undefined) missing.push(signed.resource(s!));
    else if (s === undefined) {
      if (ofSignedFile)
        changed.push(unsignedShard(signed.algorithm, actual.resource(a)));
      else extra.push(actual.resource(a));
    } else if (!sameAlgorithm || !signed.sameDigest(s, actual, a))
      changed.push(changedResource(signed.resource(s), actual.resource(a)));
  });
  return compareResult(missing, extra, changed, ignoreUnsignedFiles);
}

/**
 * {@link compareTables} with the digests compared as they arrive: the table
 * from disk keeps only those that differ or are not signed (200,000
 * files: 6.4 MB of digests not held). Made once the table's rows are set,
 * before any is hashed; every digest must then go through {@link keep}.
 */
export class ArrivalComparison {
  /**
   * Row of `actual` → row of `signed` with the same name; -1 when none,
   * -2 when none but its file has signed shards (a changed file).
   */
  private readonly match: Int32Array;
  /** Rows of `actual` whose digest is not the signed one. */
  private readonly changed: Uint8Array;
  /** Rows of `signed` not on disk, in the reference order. */
  private readonly missing: number[] = [];

  constructor(
    private readonly signed: ResourceTable,
    private readonly actual: ResourceTable,
  ) {
    this.match = new Int32Array(actual.count).fill(-1);
    this.changed = new Uint8Array(actual.count);
    joinTables(signed, actual, (s, a, ofSignedFile) => {
      if (a === undefined) this.missing.push(s!);
      else if (s !== undefined) this.match[a] = s;
      else if (ofSignedFile) this.match[a] = -2;
    });
  }

  /** True when the digest of row `a` must be stored: it is not signed, or not as signed. */
  keep(a: number, digestHex: string): boolean {
    const s = this.match[a]!;
    if (s < 0) return true;
    if (this.signed.digestIs(s, digestHex)) return false;
    this.changed[a] = 1;
    return true;
  }

  /** What {@link compareTables} gives for the same tables. */
  result(ignoreUnsignedFiles: boolean): CompareResult {
    const { signed, actual } = this;
    const missing = this.missing.map((s) => signed.resource(s));
    const extra: Resource[] = [];
    const changed: ChangedResource[] = [];
    const ao = actual.inOrder();
    for (let j = 0; j < actual.count; j++) {
      const a = ao(j);
      const s = this.match[a]!;
      if (s === -2)
        changed.push(unsignedShard(signed.algorithm, actual.resource(a)));
      else if (s < 0) extra.push(actual.resource(a));
      else if (this.changed[a] === 1)
        changed.push(changedResource(signed.resource(s), actual.resource(a)));
    }
    return compareResult(missing, extra, changed, ignoreUnsignedFiles);
  }
}

/**
 * Builds a {@link ResourceTable} one resource at a time (a decoded
 * statement), into a table of at most `capacity` resources: no growing and
 * copying of large arrays when the count is known (statement.ts sizes it
 * from the list's bytes).
 */
export class ResourceTableBuilder {
  private readonly paths: NameList;
  private readonly table: ResourceTable;
  count = 0;

  /** @param nameBytes - room to make at first for the paths' UTF-8 bytes (grows as needed) */
  constructor(
    readonly serialization: TableSerialization,
    readonly capacity: number,
    nameBytes?: number,
  ) {
    this.paths = new NameList(capacity, nameBytes);
    this.table = new ResourceTable(serialization, this.paths, capacity);
  }

  /**
   * Adds a resource: its path (and range, for shards), whether its algorithm
   * was the plain hash name, and its digest as hex of the right length.
   */
  push(
    path: string,
    start: number,
    end: number,
    plain: boolean,
    digestHex: string,
  ): void {
    const i = this.claim();
    this.paths.push(path);
    const t = this.table;
    if (t.fileOf !== undefined) {
      t.fileOf[i] = i;
      t.start![i] = start;
      t.end![i] = end;
      t.plain![i] = plain ? 1 : 0;
    }
    t.setDigestHex(i, digestHex);
  }

  /**
   * {@link push} of a files-method resource from the bytes of its statement:
   * its path is `source[nameStart, nameEnd)` (UTF-8) and its digest the hex
   * text at `digestStart` (checked by the caller to be hex of the table's
   * length). No string is made of either.
   */
  pushBytes(
    source: Uint8Array,
    nameStart: number,
    nameEnd: number,
    digestStart: number,
  ): void {
    if (this.table.fileOf !== undefined)
      throw new TypeError('pushBytes is for a files-method table');
    const i = this.claim();
    this.paths.pushRange(source, nameStart, nameEnd);
    this.table.setDigestFromHexBytes(i, source, digestStart);
  }

  /** The row of the next resource. */
  private claim(): number {
    if (this.count === this.capacity)
      throw new RangeError('more resources than the builder was sized for');
    return this.count++;
  }

  /**
   * The table of the resources added. Fewer than the capacity: views of the
   * first rows, not copies (the rows never written were never touched, and
   * a copy of 200,000 digests would be 6.4 MB more at the peak).
   */
  finish(): ResourceTable {
    if (this.count === this.capacity) return this.table;
    return new ResourceTable(
      this.serialization,
      this.paths,
      this.count,
      undefined,
      this.table,
    );
  }
}
