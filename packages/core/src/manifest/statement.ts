// SPDX-License-Identifier: Apache-2.0
/**
 * The in-toto statement that carries a manifest (oms-format.md §4, §10, §15):
 * encoding exactly as we sign it, and decoding with every check of §13.1
 * steps 6–8. Nothing in a decoded statement is trusted until its signature has
 * been verified; decoding only validates shape and internal consistency.
 */
import { createHash, type Hash } from 'node:crypto';
import {
  IN_TOTO_STATEMENT_TYPE,
  LEGACY_MODEL_NAME,
  OMS_LEGACY_PREDICATE_TYPE,
  OMS_PREDICATE_TYPE,
} from '../constants.js';
import { modelSealError } from '../errors.js';
import {
  algorithmName,
  digestHexLength,
  isHashAlgorithm,
} from './algorithms.js';
import { invalidPathReason, parseShardName } from './names.js';
import { comparePaths } from './order.js';
import { computeRootDigest } from './root-digest.js';
import {
  HEX_VALUE,
  manifestFromTable,
  ResourceTableBuilder,
  tableOf,
  type ResourceTable,
} from './table.js';
import {
  bytesAre,
  findResourcesList,
  listResources,
  PlainSpans,
  plainSpans,
  type ListCompaction,
  type ResourceSink,
  type ResourcesList,
} from './statement-scan.js';
import { skipSpace, skipValue } from '../internal/json-scan.js';
import type {
  Manifest,
  Resource,
  Serialization,
  SerializationMethod,
} from './types.js';
import { isObject } from '../internal/json.js';
import { releaseBuffer, shrinkableBuffer } from '../internal/release.js';

/** A statement decoded and checked for internal consistency. */
export interface DecodedStatement {
  manifest: Manifest;
  predicateType: string;
  /** True for the v0.2 `Digests/v0.1` predicate (no root digest in the statement). */
  legacy: boolean;
}

// Escape every character above U+007E as \uXXXX (lowercase hex; astral characters
// become surrogate pairs), as the reference's protobuf JSON printer does. Cosmetic:
// any JSON parser reads both forms.
function asciiJSON(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Encodes a manifest as the in-toto statement we sign (the DSSE payload).
 * Deterministic: key order, integer `shard_size`, sorted `ignore_paths`
 * (omitted when empty, unless `ignorePathsRecorded` says the empty list is
 * what was in force: then `[]`), 2-space indentation, no trailing newline.
 */
export function encodeStatement(manifest: Manifest): Buffer {
  const s = manifest.serialization;
  const serialization: Record<string, unknown> = {
    method: s.method,
    hash_type: s.hashType,
  };
  if (s.method === 'shards') serialization.shard_size = s.shardSize;
  serialization.allow_symlinks = s.allowSymlinks;
  if (s.ignorePaths.length > 0 || s.ignorePathsRecorded === true) {
    serialization.ignore_paths = [...new Set(s.ignorePaths)].sort(comparePaths);
  }
  const table = tableOf(manifest);
  const statement = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [
      { name: manifest.modelName, digest: { sha256: manifest.rootDigest } },
    ],
    predicateType: OMS_PREDICATE_TYPE,
    predicate: {
      serialization,
      resources:
        table !== undefined
          ? []
          : manifest.resources.map((r) => ({
              name: r.name,
              algorithm: r.algorithm,
              digest: r.digest,
            })),
    },
  };
  const text = asciiJSON(statement);
  if (table === undefined || table.count === 0)
    return Buffer.from(text, 'utf8');
  // The same bytes as above, written resource by resource from the table
  // (no array of objects for a large model): `"resources": []` is the last
  // member, so the list goes between its brackets.
  const marker = '"resources": []';
  const at = text.lastIndexOf(marker) + marker.length - 1;
  const chunks: Buffer[] = [Buffer.from(text.slice(0, at), 'utf8')];
  let part = '';
  for (let i = 0; i < table.count; i++) {
    part += `${i === 0 ? '' : ','}\n      {\n        "name": ${asciiJSON(table.name(i))},\n        "algorithm": ${asciiJSON(table.algorithmOf(i))},\n        "digest": "${table.digestHex(i)}"\n      }`;
    if (part.length >= 1 << 20) {
      chunks.push(Buffer.from(part, 'utf8'));
      part = '';
    }
  }
  chunks.push(Buffer.from(`${part}\n    ${text.slice(at)}`, 'utf8'));
  return Buffer.concat(chunks);
}

/** Reads the predicate type of a payload without validating anything; never throws. */
export function peekPredicateType(payload: Uint8Array): string | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(payload).toString('utf8'));
    if (isObject(value) && typeof value.predicateType === 'string')
      return value.predicateType;
  } catch {
    // not JSON: the caller reports it when it decodes for real
  }
  return undefined;
}

function statementError(message: string): never {
  throw modelSealError('STATEMENT_INVALID', message);
}

function inconsistent(
  message: string,
  details?: Record<string, unknown>,
): never {
  throw modelSealError(
    'MANIFEST_INCONSISTENT',
    message,
    details ? { details } : {},
  );
}

const HEX = /^[0-9a-fA-F]+$/;

function checkDigest(digest: unknown, hexLength: number, what: string): string {
  if (
    typeof digest !== 'string' ||
    digest.length !== hexLength ||
    !HEX.test(digest)
  ) {
    inconsistent(`${what}: digest is not ${hexLength} hex characters`);
  }
  return digest.toLowerCase();
}

/**
 * Decodes and checks a statement payload.
 *
 * @throws STATEMENT_INVALID when it is not an OMS statement (bad JSON, wrong
 *   `_type` or predicate type, not exactly one subject, no predicate)
 * @throws UNSUPPORTED_ALGORITHM for an unknown method or hash
 * @throws MANIFEST_INCONSISTENT for bad resources: none, invalid or duplicate
 *   names, bad digests, algorithms that disagree with the serialization, or a
 *   root digest that does not match the resources
 */
export function decodeStatement(payload: Uint8Array): DecodedStatement {
  return decode(payload, undefined);
}

/**
 * {@link decodeStatement} for a payload its caller owns and will not read
 * again: when it fills a resizable `ArrayBuffer` (as a bundle file read by
 * `readBundle` does), the bytes already decoded are given back as the
 * resources are read, a few MiB at a time, so the statement and its table
 * are never both whole in memory (200,000 files: 32 MB of statement; issue
 * 11 item 4). The payload's bytes are undefined afterwards.
 *
 * @param options.compactEvery - bytes read between two compactions, at
 *   least (default: 4 MiB, or an eighth of the payload); tests give a few
 *   bytes to compact between almost every two resources
 */
export function decodeOwnedStatement(
  payload: Uint8Array,
  options: { compactEvery?: number } = {},
): DecodedStatement {
  return decode(payload, options);
}

/**
 * Writes the next bytes of a payload into `out` from `at` (no more than fit)
 * and returns how many; 0 only at its end.
 */
export type PayloadPull = (out: Buffer, at: number) => number;

/**
 * {@link decodeStatement} of a payload read a window at a time, never whole:
 * a verified bundle's statement read again from its file (200,000 files: 32
 * MB of statement, decoded within 1 MiB; issue 11 item 4).
 *
 * `predicate.resources` must open in the first window. The list's elements
 * are read as {@link listResources} reads them; the statement around the
 * list is then checked as {@link decodeStatement} checks it, with the list
 * left empty. So when it gives a statement, {@link decodeStatement} of the
 * same bytes gives the same one. When the serialization comes after the list
 * (some reference versions write it so), the list is first skipped to read
 * the rest, then the payload is read again (`options.again`) for the list.
 *
 * @param payloadLength - the payload's bytes: the table is sized from them
 * @param options.window - bytes held at a time (tests give less)
 * @param options.again - a pull over the same bytes from their start, for
 *   a second reading; without it, a list before the serialization is left
 *   to the whole decode. The two readings must see the same bytes (their
 *   SHA-256 is compared), or there is no answer
 * @returns `undefined` when the statement cannot be read this way, for any
 *   reason, an error included: the caller then decodes it whole, which
 *   gives that error
 */
export function decodeStatementWindows(
  pull: PayloadPull,
  payloadLength: number,
  options: { window?: number; again?: () => PayloadPull } = {},
): DecodedStatement | undefined {
  let win: Window | undefined;
  const size = options.window ?? WINDOW;
  const again = options.again;
  try {
    win = new Window(pull, size);
    return windowed(
      win,
      payloadLength,
      again === undefined
        ? undefined
        : () => new Window(again(), size).hashed(),
    );
  } catch {
    return undefined;
  } finally {
    // Freed now, not at the next full collection (the model's hashing may
    // end first): nothing decoded is a view of it.
    win?.release();
  }
}

/** Bytes of statement held at a time by {@link decodeStatementWindows}. */
const WINDOW = 1 << 20;
/** Room to keep at the end of a window to pull into. */
const PULL_ROOM = 64;

/** A window on a payload read in order: `view` holds the bytes not given back yet. */
class Window {
  private readonly buffer: Buffer;
  private length = 0;
  /** The bytes held. */
  view: Buffer;
  /** Where `view` starts in the payload (the bytes given back before it). */
  base = 0;
  ended = false;

  /** SHA-256 of every byte pulled, when two readings are compared. */
  private hash: Hash | undefined;

  constructor(
    private readonly pull: PayloadPull,
    size: number,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.max(size, 4 * PULL_ROOM));
    this.view = this.buffer.subarray(0, 0);
    this.fill();
  }

  /**
   * Hashes every byte pulled from here on, and those held: only before any
   * was given back (two readings are compared only when a list comes first,
   * known once the first window is read).
   */
  hashed(): this {
    if (this.base !== 0) throw new NotWindowed();
    this.hash = createHash('sha256').update(this.view);
    return this;
  }

  /** The SHA-256 of all the bytes pulled (a hashed window read to its end). */
  digest(): Buffer {
    if (this.hash === undefined || !this.ended) throw new NotWindowed();
    return this.hash.digest();
  }

  /** Bytes held past `i`, at least: more are read when fewer are. */
  get ahead(): number {
    return this.buffer.length >> 2;
  }

  private fill(): void {
    while (!this.ended && this.buffer.length - this.length >= PULL_ROOM) {
      const n = this.pull(this.buffer, this.length);
      if (n === 0) this.ended = true;
      this.hash?.update(this.buffer.subarray(this.length, this.length + n));
      this.length += n;
    }
    this.view = this.buffer.subarray(0, this.length);
  }

  /** Frees the window's memory; the window is not used again. */
  release(): void {
    this.view = this.buffer.subarray(0, 0);
    releaseBuffer(this.buffer);
  }

  /** Gives back the bytes before `from` and reads more; returns `from` (the shift). */
  slide(from: number): number {
    this.buffer.copyWithin(0, from, this.length);
    this.length -= from;
    this.base += from;
    this.fill();
    return from;
  }
}

/** Thrown inside {@link windowed}: not read this way. */
class NotWindowed extends Error {}

/** The `[` of the first `"resources"` key in `b`, or -1. */
function resourcesOpen(b: Buffer): number {
  for (
    let k = b.indexOf(RESOURCES_KEY);
    k >= 0;
    k = b.indexOf(RESOURCES_KEY, k + 1)
  ) {
    let i = skipSpace(b, k + RESOURCES_KEY.length);
    if (b[i] !== COLON) continue;
    i = skipSpace(b, i + 1);
    if (b[i] === OPEN_ARRAY) return i;
  }
  return -1;
}

const RESOURCES_KEY = Buffer.from('"resources"');
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
/** Bytes of statement after its list, at most, in {@link windowed}. */
const SUFFIX_BYTES = 1 << 20;

function windowed(
  win: Window,
  payloadLength: number,
  again: (() => Window) | undefined,
): DecodedStatement | undefined {
  const open = resourcesOpen(win.view);
  if (open < 0) return undefined;
  // The statement up to the list, closed: it must hold the serialization,
  // or come after it.
  const prefix = Buffer.from(win.view.subarray(0, open));
  let early: StatementHead;
  try {
    early = statementHead(
      JSON.parse(`${prefix.toString('utf8')}[]}}`) as unknown,
    );
  } catch {
    return again === undefined
      ? undefined
      : listFirst(win, open, prefix, payloadLength, again);
  }
  if (early.legacy !== undefined) return undefined;
  const list = listTable(win, open, early.serialization, payloadLength);
  const rest = restAfter(win, list.close);
  const head = rest === undefined ? undefined : headAround(prefix, rest, open);
  if (
    head === undefined ||
    JSON.stringify(head.serialization) !== JSON.stringify(early.serialization)
  )
    return undefined;
  return statementOf(head, list.table);
}

/**
 * The resources of the list opening at `open` in the window, and where its
 * `]` is in the window. The table has room for every resource the payload
 * could hold (each takes MIN_ELEMENT_BYTES at least): rows never written are
 * never touched, and finish() keeps views of those that were.
 */
function listTable(
  win: Window,
  open: number,
  serialization: Serialization,
  payloadLength: number,
): { table: ResourceTable; close: number } {
  const list = { close: -1 };
  const decoder = new ResourceDecoder(
    Math.floor(payloadLength / MIN_ELEMENT_BYTES) + 1,
    serialization,
    payloadLength,
  );
  windowElements(win, open, list, decoder);
  return { table: decoder.finish(), close: list.close };
}

/** The statement after the list's `]` at `close` in the window, read to its end (at most {@link SUFFIX_BYTES}). */
function restAfter(win: Window, close: number): Buffer[] | undefined {
  const rest: Buffer[] = [Buffer.from(win.view.subarray(close + 1))];
  let restBytes = rest[0]!.length;
  while (!win.ended) {
    win.slide(win.view.length);
    rest.push(Buffer.from(win.view));
    restBytes += win.view.length;
    if (restBytes > SUFFIX_BYTES) return undefined;
  }
  return rest;
}

/**
 * The statement with its list left empty, checked as decodeStatement checks
 * it, when decodeStatement would find the list where it was read (`open`).
 */
function headAround(
  prefix: Buffer,
  rest: readonly Buffer[],
  open: number,
): StatementHead | undefined {
  const skeleton = Buffer.concat([prefix, EMPTY_LIST, ...rest]);
  const found = findResourcesList(skeleton);
  if (found?.open !== open || found.close !== open + 1) return undefined;
  const head = statementHead(JSON.parse(skeleton.toString('utf8')) as unknown);
  return head.legacy !== undefined ? undefined : head;
}

/**
 * A list before the serialization: skipped (brackets and strings counted)
 * to read the rest and its serialization, then read again from the start
 * for its elements, which must end where the skip ended.
 */
function listFirst(
  win: Window,
  open: number,
  prefix: Buffer,
  payloadLength: number,
  again: () => Window,
): DecodedStatement | undefined {
  // The two readings must see the same bytes (the head is the first's, the
  // resources the second's): both are hashed.
  win.hashed();
  const close = skipList(win, open);
  const rest = restAfter(win, close - win.base);
  const head = rest === undefined ? undefined : headAround(prefix, rest, open);
  if (head === undefined) return undefined;
  const second = again();
  try {
    if (!second.view.subarray(0, open).equals(prefix)) return undefined;
    const list = listTable(second, open, head.serialization, payloadLength);
    if (second.base + list.close !== close) return undefined;
    while (!second.ended) second.slide(second.view.length);
    if (!second.digest().equals(win.digest())) return undefined;
    return statementOf(head, list.table);
  } finally {
    second.release();
  }
}

/**
 * Where the list opening at `open` ends (its `]`, as an offset in the
 * payload); the window then holds it. Its elements are only skipped (as
 * findResourcesList skips them), not parsed: the second reading does.
 */
function skipList(win: Window, open: number): number {
  const list = { close: -1 };
  windowElements(win, open, list, undefined);
  return win.base + list.close;
}

/**
 * The elements of the list opening at `open` in the window, given to `sink`
 * as {@link listResources} gives them (no sink: only skipped);
 * `list.close` is then where its `]` is in the window. Throws NotWindowed
 * on anything else.
 */
function windowElements(
  win: Window,
  open: number,
  list: { close: number },
  sink: ResourceSink | undefined,
): void {
  let i = open + 1;
  const spans = new PlainSpans();
  // The next token at or after `i`, with `ahead` bytes after it held.
  const next = (): void => {
    for (;;) {
      i = skipSpace(win.view, i);
      if (i < win.view.length || win.ended) break;
      i -= win.slide(i);
    }
    if (!win.ended && win.view.length - i < win.ahead) i -= win.slide(i);
    if (i >= win.view.length) throw new NotWindowed();
  };
  next();
  if (win.view[i] === CLOSE_ARRAY) {
    list.close = i;
    return;
  }
  for (;;) {
    const b = win.view;
    const plain = sink !== undefined && plainSpans(b, i, b.length, spans);
    const end = plain ? spans.end : skipValue(b, i);
    // Cut off by the window's end: read again from its start, with more.
    if ((end < 0 || end >= b.length) && !win.ended) {
      if (i === 0) throw new NotWindowed();
      i -= win.slide(i);
      continue;
    }
    if (end < 0) throw new NotWindowed();
    if (sink !== undefined) {
      if (plain) sink.plain(b, spans);
      else sink.value(JSON.parse(b.toString('utf8', i, end)) as unknown);
    }
    i = end;
    next();
    const c = win.view[i];
    if (c === CLOSE_ARRAY) {
      list.close = i;
      return;
    }
    if (c !== COMMA) throw new NotWindowed();
    i += 1;
    next();
  }
}

/** Bytes read between two compactions of an owned statement, at least. */
const COMPACT_BYTES = 4 << 20;

/** An owned payload's bytes, and how to give them back as they are read. */
interface Compactor extends ListCompaction {
  /** The payload: a view that follows its buffer as it shrinks. */
  bytes: Buffer;
}

/**
 * Gives back an owned payload's bytes as they are read, when they fill a
 * buffer that can shrink. One view for the whole decode, which follows the
 * buffer's length: a new `Buffer` over a resizable buffer gets a new hidden
 * class each time, and each one made the decoder's optimised code be thrown
 * away (8 compactions took 0.3–0.5 s more).
 */
function compactor(
  payload: Uint8Array,
  every: number | undefined,
): Compactor | undefined {
  const buffer = shrinkableBuffer(payload);
  if (
    buffer === undefined ||
    payload.byteOffset !== 0 ||
    payload.byteLength !== buffer.byteLength
  )
    return undefined;
  // Length-tracking (no length given), with Buffer's methods.
  const bytes = Object.setPrototypeOf(
    new Uint8Array(buffer),
    Buffer.prototype as object,
  ) as Buffer;
  return {
    bytes,
    // At most eight moves of what is left (a 64 MiB statement: 8 MiB steps).
    every: every ?? Math.max(COMPACT_BYTES, Math.ceil(bytes.length / 8)),
    from: (from) => {
      bytes.copyWithin(0, from);
      buffer.resize(bytes.length - from);
      return bytes;
    },
  };
}

/** @param owned - decodeOwnedStatement's options; undefined: a caller's bytes, left alone */
function decode(
  payload: Uint8Array,
  owned: { compactEvery?: number } | undefined,
): DecodedStatement {
  let value: unknown;
  const compact =
    owned === undefined ? undefined : compactor(payload, owned.compactEvery);
  // A view, not a copy: a large model's statement is tens of megabytes.
  const bytes =
    compact?.bytes ??
    Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  // The resource list is decoded element by element (statement-scan.ts);
  // the rest of the statement is parsed with the list left empty.
  const list = findResourcesList(bytes);
  try {
    value = JSON.parse(
      list === undefined
        ? bytes.toString('utf8')
        : Buffer.concat([
            bytes.subarray(0, list.open),
            EMPTY_LIST,
            bytes.subarray(list.close + 1),
          ]).toString('utf8'),
    );
  } catch (cause) {
    throw modelSealError(
      'STATEMENT_INVALID',
      'statement payload is not valid JSON',
      { cause },
    );
  }
  const head = statementHead(value);
  if (head.legacy !== undefined) return head.legacy;
  const { predicate, serialization } = head;
  let decoder: ResourceDecoder;
  if (list === undefined) {
    const raw = predicate.resources as unknown[];
    decoder = new ResourceDecoder(raw.length, serialization);
    for (const item of raw) decoder.value(item);
  } else {
    const count = countElements(bytes, list);
    const listBytes = list.close - list.open;
    decoder = new ResourceDecoder(
      count,
      serialization,
      Math.max(0, listBytes - count * MIN_ELEMENT_BYTES_BUT_NAME),
    );
    parseElements(bytes, list, decoder, compact);
  }
  return statementOf(head, decoder.finish());
}

/** What a statement says besides its resources, checked. */
interface StatementHead {
  /** A v0.2 statement, decoded whole (the rest is then unset). */
  legacy?: DecodedStatement;
  modelName: string;
  rootDigest: string;
  predicate: Record<string, unknown>;
  serialization: Serialization;
}

/** The checks of a parsed statement (its list maybe left empty), in order, up to its resources. */
function statementHead(value: unknown): StatementHead {
  if (!isObject(value))
    statementError('statement payload is not a JSON object');
  if (value._type !== IN_TOTO_STATEMENT_TYPE) {
    statementError(
      `statement _type is ${JSON.stringify(value._type)}, expected ${IN_TOTO_STATEMENT_TYPE}`,
    );
  }
  const predicateType = value.predicateType;
  if (predicateType === OMS_LEGACY_PREDICATE_TYPE) {
    return {
      legacy: decodeLegacy(value),
      modelName: '',
      rootDigest: '',
      predicate: {},
      serialization: {} as Serialization,
    };
  }
  if (predicateType !== OMS_PREDICATE_TYPE) {
    statementError(
      `unsupported predicate type ${JSON.stringify(predicateType)}`,
    );
  }
  const subjects = value.subject;
  if (!Array.isArray(subjects) || subjects.length !== 1) {
    statementError('statement must have exactly one subject');
  }
  const subject: unknown = subjects[0];
  if (!isObject(subject) || !isObject(subject.digest))
    statementError('statement subject has no digest');
  const rootDigest = subject.digest.sha256;
  if (typeof rootDigest !== 'string' || !/^[0-9a-fA-F]{64}$/.test(rootDigest)) {
    statementError('statement subject has no sha256 digest');
  }
  const modelName = typeof subject.name === 'string' ? subject.name : '';
  const predicate = value.predicate;
  if (!isObject(predicate)) statementError('statement has no predicate');
  if (!isObject(predicate.serialization))
    statementError('predicate has no serialization');
  if (!Array.isArray(predicate.resources))
    statementError('predicate has no resources list');
  return {
    modelName,
    rootDigest,
    predicate,
    serialization: decodeSerialization(predicate.serialization),
  };
}

/** The decoded statement of a head and its resources, once the root digest agrees. */
function statementOf(
  head: StatementHead,
  table: ResourceTable,
): DecodedStatement {
  const computed = table.rootDigest();
  if (computed !== head.rootDigest.toLowerCase()) {
    inconsistent('root digest does not match the resources', {
      expected: head.rootDigest.toLowerCase(),
      actual: computed,
    });
  }
  return {
    manifest: manifestFromTable(
      head.modelName,
      head.serialization,
      table,
      computed,
    ),
    predicateType: OMS_PREDICATE_TYPE,
    legacy: false,
  };
}

const EMPTY_LIST = Buffer.from('[]');

/**
 * The table size for the list: at least its valid elements, never more than
 * the bytes can hold. Each valid element has a `{` (counted natively) and
 * takes at least {@link MIN_ELEMENT_BYTES} bytes; so a list of `{}` or of
 * `{` inside strings cannot make the table larger than its bytes allow.
 * Elements that are not valid are refused before they are stored.
 */
function countElements(bytes: Buffer, list: ResourcesList): number {
  const most = Math.floor((list.close - list.open) / MIN_ELEMENT_BYTES) + 1;
  let n = 0;
  for (
    let i = bytes.indexOf(0x7b, list.open);
    i >= 0 && i < list.close && n < most;
    i = bytes.indexOf(0x7b, i + 1)
  )
    n++;
  return n;
}

/**
 * The shortest valid resource: `{"name":"a","algorithm":"sha256","digest":"`,
 * 64 hex digits, `"}` is 109 bytes; escapes and other names only add.
 */
const MIN_ELEMENT_BYTES = 100;

/** Each element of the list, parsed on its own and given to `decoder` (the common shape without `JSON.parse`). */
function parseElements(
  bytes: Buffer,
  list: ResourcesList,
  decoder: ResourceDecoder,
  compact: Compactor | undefined,
): void {
  try {
    listResources(bytes, list, decoder, compact);
  } catch (cause) {
    if (!(cause instanceof SyntaxError)) throw cause;
    throw modelSealError(
      'STATEMENT_INVALID',
      'statement payload is not valid JSON',
      { cause },
    );
  }
}

function decodeSerialization(raw: Record<string, unknown>): Serialization {
  const method = raw.method;
  if (method !== 'files' && method !== 'shards') {
    throw modelSealError(
      'UNSUPPORTED_ALGORITHM',
      `unsupported serialization method ${JSON.stringify(method)}`,
    );
  }
  const hashType = raw.hash_type;
  if (typeof hashType !== 'string' || !isHashAlgorithm(hashType)) {
    throw modelSealError(
      'UNSUPPORTED_ALGORITHM',
      `unsupported hash type ${JSON.stringify(hashType)}`,
    );
  }
  const allowSymlinks = raw.allow_symlinks;
  if (allowSymlinks !== undefined && typeof allowSymlinks !== 'boolean') {
    inconsistent('serialization.allow_symlinks is not a boolean');
  }
  const ignorePaths: string[] = [];
  const recorded = raw.ignore_paths !== undefined && raw.ignore_paths !== null;
  if (recorded) {
    if (!Array.isArray(raw.ignore_paths))
      inconsistent('serialization.ignore_paths is not a list');
    for (const entry of raw.ignore_paths as unknown[]) {
      if (typeof entry !== 'string')
        inconsistent('serialization.ignore_paths holds a non-string');
      ignorePaths.push(entry);
    }
  }
  const serialization: Serialization = {
    method,
    hashType,
    allowSymlinks: allowSymlinks === true,
    ignorePaths,
  };
  // An empty list is still a list: "nothing was ignored", not "pre-1.1, apply the git defaults".
  if (recorded && ignorePaths.length === 0)
    serialization.ignorePathsRecorded = true;
  if (method === 'shards') {
    // The reference writes `8.0`; JSON numbers `8`, `8.0` and `8e0` all parse to 8.
    const size = raw.shard_size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) {
      inconsistent(
        `serialization.shard_size ${JSON.stringify(size)} is not a positive integer`,
      );
    }
    serialization.shardSize = size;
  }
  return serialization;
}

/**
 * The JSON of a resource without its name's characters is at least this
 * long: `{"name":"","algorithm":"sha256","digest":""}` and 64 hex digits.
 */
const MIN_ELEMENT_BYTES_BUT_NAME = 108;

/**
 * Checks and stores a statement's resources one at a time, in order (a
 * {@link ResourceSink}), into a table; {@link finish} then checks the whole.
 */
class ResourceDecoder implements ResourceSink {
  private readonly hexLength: number;
  private readonly expectedAlgorithm: string;
  private readonly shards: boolean;
  private readonly builder: ResourceTableBuilder;
  private index = 0;

  /**
   * @param count - room for this many resources (at least as many as come)
   * @param nameBytes - room to make at first for the names' UTF-8 bytes, when
   *   decoded from a list of known length: at most its bytes less the rest of
   *   each resource's JSON ({@link MIN_ELEMENT_BYTES_BUT_NAME}: an escape is
   *   never shorter than what it stands for), so the table is sized once
   *   instead of grown
   */
  constructor(
    count: number,
    private readonly serialization: Serialization,
    nameBytes?: number,
  ) {
    this.hexLength = digestHexLength(serialization.hashType);
    this.expectedAlgorithm = algorithmName(serialization);
    this.shards = serialization.method === 'shards';
    this.builder = new ResourceTableBuilder(serialization, count, nameBytes);
  }

  value(item: unknown): void {
    const index = this.index;
    const serialization = this.serialization;
    if (!isObject(item)) inconsistent(`resource ${index} is not an object`);
    const { name, algorithm } = item;
    if (typeof name !== 'string') inconsistent(`resource ${index} has no name`);
    if (typeof algorithm !== 'string')
      inconsistent(`resource ${JSON.stringify(name)} has no algorithm`);
    checkResourceName(name, serialization.method);
    // Shards: the reference and Go write `sha256-sharded-N`; the spec says the plain hash name.
    const plain = this.shards && algorithm === serialization.hashType;
    if (algorithm !== this.expectedAlgorithm && !plain) {
      inconsistent(
        `resource ${JSON.stringify(name)} has algorithm ${JSON.stringify(algorithm)}, expected ${this.expectedAlgorithm}`,
      );
    }
    const digest = checkDigest(
      item.digest,
      this.hexLength,
      `resource ${JSON.stringify(name)}`,
    );
    if (this.shards) {
      const shard = parseShardName(name)!;
      this.builder.push(shard.path, shard.start, shard.end, plain, digest);
    } else this.builder.push(name, 0, 0, false, digest);
    this.index++;
  }

  /**
   * A resource of the common shape: a file's is checked and stored from its
   * bytes (no string made), with the checks of {@link value}; anything it
   * would refuse, and a shard, goes through {@link value} as the object
   * `JSON.parse` gives (the same answer, the same message).
   */
  plain(b: Buffer, spans: PlainSpans): void {
    const at = spans.at;
    if (
      this.shards ||
      at[3]! - at[2]! !== this.expectedAlgorithm.length ||
      !bytesAre(b, at[2]!, this.expectedAlgorithm) ||
      !hexOfLength(b, at[4]!, at[5]!, this.hexLength) ||
      !plainPathValid(b, at[0]!, at[1]!)
    ) {
      this.value(spans.value(b));
      return;
    }
    this.builder.pushBytes(b, at[0]!, at[1]!, at[4]!);
    this.index++;
  }

  /** The table, once no two resources have the same name. */
  finish(): ResourceTable {
    if (this.index === 0) inconsistent('manifest lists no resources');
    const table = this.builder.finish();
    // Duplicates sit side by side in the reference order.
    const at = table.inOrder();
    for (let k = 1; k < table.count; k++) {
      if (table.compare(at(k - 1), table, at(k)) === 0) {
        const name = table.name(at(k));
        inconsistent(`duplicate resource name ${JSON.stringify(name)}`, {
          name,
        });
      }
    }
    return table;
  }
}

/** Whether `b[start, end)` is `length` hex digits (either case): what {@link checkDigest} takes. */
function hexOfLength(
  b: Uint8Array,
  start: number,
  end: number,
  length: number,
): boolean {
  if (end - start !== length) return false;
  for (let k = start; k < end; k++) if (HEX_VALUE[b[k]!]! < 0) return false;
  return true;
}

/**
 * Whether the plain (printable ASCII, no escape) name `b[start, end)` is a
 * valid files-method resource name: `.` (a one-file model), or what
 * {@link invalidPathReason} takes. Its bytes are its UTF-8, and no lone
 * surrogate or NUL can be among them.
 */
function plainPathValid(b: Uint8Array, start: number, end: number): boolean {
  if (end === start) return false;
  if (end - start === 1 && b[start] === DOT) return true;
  if (b[start] === SLASH || b[end - 1] === SLASH) return false;
  // Component by component: none empty, none `.` or `..`.
  let from = start;
  for (let k = start; k <= end; k++) {
    if (k < end && b[k] !== SLASH) continue;
    const length = k - from;
    if (length === 0) return false;
    if (
      b[from] === DOT &&
      (length === 1 || (length === 2 && b[from + 1] === DOT))
    )
      return false;
    from = k + 1;
  }
  return true;
}

const DOT = 0x2e;
const SLASH = 0x2f;

const LONE_SURROGATE =
  /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkResourceName(name: string, method: SerializationMethod): void {
  // Names are kept as UTF-8: a lone surrogate would become U+FFFD and
  // could then name another file.
  if (LONE_SURROGATE.test(name))
    inconsistent(
      `invalid resource name ${JSON.stringify(name)}: not valid Unicode`,
      { name },
    );
  let path = name;
  if (method === 'shards') {
    const shard = parseShardName(name);
    if (shard === undefined)
      inconsistent(
        `resource name ${JSON.stringify(name)} is not path:start:end`,
      );
    if (shard.end <= shard.start)
      inconsistent(
        `resource ${JSON.stringify(name)} has an empty or reversed range`,
      );
    path = shard.path;
  }
  if (path === '.') return; // single-file model
  const reason = invalidPathReason(path);
  if (reason !== undefined)
    inconsistent(`invalid resource name ${JSON.stringify(name)}: ${reason}`, {
      name,
    });
}

function decodeLegacy(value: Record<string, unknown>): DecodedStatement {
  const subjects = value.subject;
  if (!Array.isArray(subjects) || subjects.length === 0)
    statementError('legacy statement has no subjects');
  const resources: Resource[] = [];
  const seen = new Set<string>();
  for (const [index, subject] of (subjects as unknown[]).entries()) {
    if (
      !isObject(subject) ||
      typeof subject.name !== 'string' ||
      !isObject(subject.digest)
    ) {
      statementError(`legacy statement subject ${index} is malformed`);
    }
    const name = subject.name;
    const reason = invalidPathReason(name);
    if (reason !== undefined)
      inconsistent(`invalid resource name ${JSON.stringify(name)}: ${reason}`, {
        name,
      });
    if (seen.has(name))
      inconsistent(`duplicate resource name ${JSON.stringify(name)}`, { name });
    seen.add(name);
    const digest = checkDigest(
      subject.digest.sha256,
      64,
      `resource ${JSON.stringify(name)}`,
    );
    resources.push({ name, algorithm: 'sha256', digest });
  }
  return {
    manifest: {
      modelName: LEGACY_MODEL_NAME,
      serialization: {
        method: 'files',
        hashType: 'sha256',
        allowSymlinks: false,
        ignorePaths: [],
      },
      resources,
      rootDigest: computeRootDigest(resources),
    },
    predicateType: OMS_LEGACY_PREDICATE_TYPE,
    legacy: true,
  };
}
