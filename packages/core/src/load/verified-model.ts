// SPDX-License-Identifier: Apache-2.0
/**
 * Verify, then load: a verified model hands out file contents only after
 * re-hashing the very bytes it delivers against the signed digests, so what a
 * loader receives is exactly what was verified, with no window between the
 * check and the use.
 */
import { constants } from 'node:fs';
import { lstat, open, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import {
  defaultScanAttestationPath,
  verifyScanAttestation,
  type ScanAttestationResult,
} from '../attest/verify-scan.js';
import { modelSealError } from '../errors.js';
import { createHasher } from '../manifest/hash-worker.js';
import {
  checkHfCacheLink,
  detectHfCacheSnapshot,
} from '../manifest/hf-cache.js';
import { invalidPathReason, parseShardName } from '../manifest/names.js';
import type { Manifest } from '../manifest/types.js';
import { verifyModelSignature } from '../verify/verify-model.js';
import type {
  VerifyModelSignatureOptions,
  VerifyModelSignatureResult,
} from '../verify/types.js';

interface Range {
  start: number;
  end: number;
  digest: string;
}

const CHUNK = 1024 * 1024;

/** Options of {@link VerifiedModel.createReadStream}. */
export interface VerifiedReadStreamOptions {
  /** Bytes per chunk. Default 1 MiB. */
  highWaterMark?: number;
}

/**
 * A model whose signature, signer and files were verified. Read its files
 * through {@link VerifiedModel.readFile} or {@link VerifiedModel.createReadStream}:
 * both re-hash what they deliver and fail with `MANIFEST_MISMATCH` if the bytes
 * differ from the signed digests (a file swapped after verification, a disk
 * error, a writer racing the reader).
 */
export class VerifiedModel {
  /** What verification proved: signer, signing time, manifest, comparison. */
  readonly verification: VerifyModelSignatureResult;
  /** The model path as given (a directory, or a single file). */
  readonly path: string;
  /** The verified scan attestation, when `requireScan` was given. */
  readonly scan: ScanAttestationResult | undefined;
  private readonly ranges: Map<string, Range[]>;
  private readonly single: boolean;

  /** @internal Use {@link verifyModel}. */
  constructor(
    path: string,
    verification: VerifyModelSignatureResult,
    singleFile: boolean,
    scan?: ScanAttestationResult,
  ) {
    this.path = path;
    this.verification = verification;
    this.scan = scan;
    this.ranges = rangesOf(verification.manifest);
    this.single = singleFile;
  }

  /** The signed files, POSIX paths relative to the model root (`.` for a single-file model). */
  files(): string[] {
    return [...this.ranges.keys()];
  }

  /** The signed manifest. */
  get manifest(): Manifest {
    return this.verification.manifest;
  }

  private locate(name: string): { ranges: Range[]; absolute: string } {
    const ranges = this.ranges.get(name);
    if (ranges === undefined) {
      const reason = name === '.' ? undefined : invalidPathReason(name);
      throw modelSealError(
        'INVALID_PATH',
        `${name}: not a signed file of ${this.path}${reason ? ` (${reason})` : ''}`,
        {
          details: { path: name },
        },
      );
    }
    return {
      ranges,
      absolute:
        name === '.' || this.single
          ? resolve(this.path)
          : join(resolve(this.path), name),
    };
  }

  private async openChecked(
    name: string,
    absolute: string,
    expectedSize: number,
  ): Promise<FileHandle> {
    const s = this.verification.manifest.serialization;
    let flags = constants.O_RDONLY | constants.O_NONBLOCK;
    if (!s.allowSymlinks) flags |= constants.O_NOFOLLOW;
    let handle: FileHandle;
    try {
      // A hub-cache snapshot: the link is checked again and its blob opened.
      if (this.verification.hfCache !== undefined) {
        flags |= constants.O_NOFOLLOW;
        const snapshot = await detectHfCacheSnapshot(this.path);
        if (snapshot !== undefined && (await lstat(absolute)).isSymbolicLink())
          absolute = (await checkHfCacheLink(absolute, name, snapshot)).blob;
      }
      handle = await open(absolute, flags);
    } catch (cause) {
      throw modelSealError(
        'MANIFEST_MISMATCH',
        `${name}: cannot be opened after verification`,
        { cause, details: { path: name } },
      );
    }
    const st = await handle.stat();
    if (!st.isFile() || (expectedSize >= 0 && st.size !== expectedSize)) {
      await handle.close();
      throw modelSealError(
        'MANIFEST_MISMATCH',
        `${name}: changed after verification (size ${st.size})`,
        {
          details: { path: name, expectedSize, actualSize: st.size },
        },
      );
    }
    return handle;
  }

  private expectedSize(ranges: Range[]): number {
    // Shards record the file's extent; whole-file digests do not record a size.
    return this.verification.manifest.serialization.method === 'shards'
      ? (ranges.at(-1)?.end ?? 0)
      : -1;
  }

  /**
   * Reads a signed file whole and returns it only after its digest matched.
   *
   * @throws INVALID_PATH for a name that is not a signed file
   * @throws MANIFEST_MISMATCH when the bytes read differ from the signed digest
   */
  async readFile(name: string): Promise<Buffer> {
    const { ranges, absolute } = this.locate(name);
    const handle = await this.openChecked(
      name,
      absolute,
      this.expectedSize(ranges),
    );
    try {
      const data = await handle.readFile();
      this.check(name, ranges, data);
      return data;
    } finally {
      await handle.close();
    }
  }

  private check(name: string, ranges: Range[], data: Buffer): void {
    const s = this.verification.manifest.serialization;
    if (s.method === 'files') {
      const h = createHasher(s.hashType);
      h.update(data);
      this.compare(name, ranges[0]!, h.hex());
      return;
    }
    if ((ranges.at(-1)?.end ?? 0) !== data.length)
      this.mismatch(name, 'its size changed');
    for (const range of ranges) {
      const h = createHasher(s.hashType);
      h.update(data.subarray(range.start, range.end));
      this.compare(name, range, h.hex());
    }
  }

  private compare(name: string, range: Range, actual: string): void {
    if (actual !== range.digest)
      this.mismatch(name, `digest ${actual} is not the signed ${range.digest}`);
  }

  private mismatch(name: string, why: string): never {
    throw modelSealError(
      'MANIFEST_MISMATCH',
      `${name}: changed after verification: ${why}`,
      { details: { path: name } },
    );
  }

  /**
   * Streams a signed file, hashing each chunk before it is pushed. The last
   * chunk of every shard (or of the file) is held back until the digest has
   * matched, so the stream never ends successfully on altered bytes: it fails
   * with `MANIFEST_MISMATCH` instead. Consumers that must not see a single
   * unverified byte use {@link VerifiedModel.readFile}.
   */
  createReadStream(
    name: string,
    options: VerifiedReadStreamOptions = {},
  ): Readable {
    const chunkSize = options.highWaterMark ?? CHUNK;
    const { ranges, absolute } = this.locate(name);
    return Readable.from(
      this.verifiedChunks(name, absolute, ranges, chunkSize),
      { objectMode: false, highWaterMark: chunkSize },
    );
  }

  private async *verifiedChunks(
    name: string,
    absolute: string,
    ranges: Range[],
    chunkSize: number,
  ): AsyncGenerator<Buffer> {
    const s = this.verification.manifest.serialization;
    const handle = await this.openChecked(
      name,
      absolute,
      this.expectedSize(ranges),
    );
    try {
      // Files mode: one range covering the whole file, its end taken from the open file.
      const plan =
        s.method === 'files'
          ? [
              {
                start: 0,
                end: (await handle.stat()).size,
                digest: ranges[0]!.digest,
              },
            ]
          : ranges;
      let position = 0;
      for (const range of plan) {
        const hash = createHasher(s.hashType);
        let held: Buffer | undefined;
        while (position < range.end) {
          const want = Math.min(chunkSize, range.end - position);
          const chunk = Buffer.allocUnsafe(want);
          const { bytesRead } = await handle.read(chunk, 0, want, position);
          if (bytesRead < want) this.mismatch(name, 'it shrank');
          hash.update(chunk);
          position += want;
          // Hold the newest chunk back: the range's last bytes go out only once its digest matched.
          if (held) yield held;
          held = chunk;
        }
        this.compare(name, range, hash.hex());
        if (held) yield held;
      }
      // Past the last signed byte: the file must not have grown.
      const { bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, position);
      if (bytesRead > 0) this.mismatch(name, 'it grew');
    } finally {
      await handle.close();
    }
  }
}

function rangesOf(manifest: Manifest): Map<string, Range[]> {
  const map = new Map<string, Range[]>();
  const shards = manifest.serialization.method === 'shards';
  for (const r of manifest.resources) {
    if (shards) {
      const shard = parseShardName(r.name)!;
      const list = map.get(shard.path) ?? [];
      list.push({
        start: shard.start,
        end: shard.end,
        digest: r.digest.toLowerCase(),
      });
      map.set(shard.path, list);
    } else {
      map.set(r.name, [{ start: 0, end: -1, digest: r.digest.toLowerCase() }]);
    }
  }
  for (const list of map.values()) list.sort((a, b) => a.start - b.start);
  return map;
}

/** Options of {@link verifyModel}: those of `verifyModelSignature`, plus the scan requirement. */
export type VerifyModelOptions = VerifyModelSignatureOptions & {
  /**
   * Require a clean signed scan attestation for the same root digest, verified
   * with the same trust policy. `attestationPath` defaults to the signature's
   * sibling (`model.sig` → `model.scan.sig`).
   */
  requireScan?: boolean | { attestationPath?: string };
};

/**
 * Verifies a model (bundle, signer policy, every file) and returns a
 * {@link VerifiedModel} whose reads are re-verified.
 *
 * @throws every code of `verifyModelSignature`
 */
export async function verifyModel(
  options: VerifyModelOptions,
): Promise<VerifiedModel> {
  const verification = await verifyModelSignature(options);
  let scan: ScanAttestationResult | undefined;
  if (options.requireScan !== undefined && options.requireScan !== false) {
    const explicit =
      typeof options.requireScan === 'object'
        ? options.requireScan.attestationPath
        : undefined;
    const attestationPath =
      explicit ?? defaultScanAttestationPath(options.bundlePath);
    scan = await verifyScanAttestation(
      options,
      attestationPath,
      verification.manifest.rootDigest,
    );
  }
  const singleFile = (await stat(options.modelPath)).isFile();
  return new VerifiedModel(options.modelPath, verification, singleFile, scan);
}
