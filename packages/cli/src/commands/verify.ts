// SPDX-License-Identifier: Apache-2.0
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ScanAttestationResult } from '@modelseal/core/attest';
import { isModelSealError } from '@modelseal/core/errors';
import { resourceCount } from '@modelseal/core/manifest';
import { safeJSONStringify, safeText } from '@modelseal/core/output';
import {
  verifyModelSignature,
  type VerifyModelSignatureOptions,
  type VerifyModelSignatureResult,
} from '@modelseal/core/verify/model';
import {
  flag,
  list,
  parse,
  positiveInteger,
  str,
  type Parsed,
} from '../args.js';
import { EXIT, UsageError, type ExitCode } from '../exit-codes.js';
import type { Io } from '../io.js';
import { progressReporter } from '../output/progress.js';
import { fileFlagsOf, refusePrivateKeyFile } from './key-files.js';
import { withFlagHint } from '../output/errors.js';
import { describeMismatch, describeSigner } from '../output/text.js';
import {
  OUTPUT_FLAGS,
  progressModeFrom,
  threadsFrom,
  fileSha256Of,
  signaturePathFrom,
} from './common.js';
import { methodAndModel, onlyFor, type CliMethod } from './method.js';

export const VERIFY_HELP = `usage: modelseal verify [sigstore|key|certificate] MODEL_PATH [options]

Verifies the bundle's signature and signer, then hashes every file of the model
with the serialization recorded in the bundle and compares: a missing, changed
or unsigned file fails, each reported by name. The method defaults to sigstore.

common options:
  --signature FILE, --bundle FILE  the bundle (default model.sig in the current directory)
  --ignore-paths PATH              more paths to leave out (repeatable; relative to the current directory)
  --ignore-unsigned-files          tolerate files that were not signed (missing and changed files still fail)
  --no-allow-symlinks              refuse symlinks even when the signer allowed them
  --hf-cache, --no-hf-cache        Hugging Face cache snapshot (…/models--ORG--NAME/snapshots/REV): follow links
                                   straight into that repository's blobs/ and refuse every other link; detected
                                   by default, --hf-cache requires it, --no-hf-cache never applies it
  --verify-cache FILE              reuse digests of files whose device, inode, size, mtime and ctime are unchanged
                                   since an earlier verify (a file private to you, created 0600; off by default)
  --json                           print the result (or the failure) as JSON on stdout
  --progress auto|plain|none, -q   progress on stderr
  --verbose, -v                    list every missing, changed or unsigned file (default: 20 of each and a count)
  --max-bundle-bytes N             refuse a bundle larger than N bytes (default 67108864, 64 MiB)
  --threads N                      hashing threads, this one included (default: one per core)

key:
  --public-key FILE                the signer's public key
  --key-fingerprint sha256:HEX     also pin the key: the fingerprint verify prints (sha256 of the SPKI DER)
certificate:
  --certificate-chain FILE         a trusted CA certificate (repeatable; each one is a trust anchor)
  who may sign (each constraint must hold; without any, every leaf the CA issued is accepted):
  --identity ID, --identity-regexp RE        any SAN entry of the leaf (email, URI or DNS name)
  --identity-provider URL, ... -regexp RE    the OIDC issuer extension (Fulcio-style certificates)
  --certificate-email E, --certificate-uri U, --certificate-dns D, --certificate-subject DN
                                   SAN entries or the subject (as printed: O=Acme, CN=release), exact;
                                   each has a -regexp form; repeatable
  --certificate-eku NAME|OID       an extended key usage the leaf must have (e.g. codeSigning); repeatable
key and certificate:
  --timestamp-certificate FILE     trust this timestamp authority's certificates (repeatable): the bundle's RFC 3161
                                   timestamp is verified and certificates are checked at its time
sigstore (keyless):
  --identity ID                    expected signer identity (certificate SAN), exact
    alias --certificate-identity
  --identity-provider URL          expected OIDC issuer, exact
    alias --certificate-oidc-issuer
  --identity-regexp RE             expected identity as a JavaScript regular expression (not RE2), anchored
    alias --certificate-identity-regexp
  --identity-provider-regexp RE    expected issuer as a JavaScript regular expression, anchored
    alias --certificate-oidc-issuer-regexp
  --trusted-root FILE              a TrustedRoot JSON (default: the public-good root, refreshed through TUF)
  --offline                        no network: --trusted-root, else the public-good root shipped with modelseal
  --tuf-mirror URL                 refresh the trusted root from this TUF repository (default the public-good one;
                                   5 s per request; unreachable: the verified cache, then the shipped root, with a warning)
  --tuf-root FILE                  the TUF root.json to start from (needed for any mirror but public-good)
  --use-staging                    Sigstore staging (needs --trusted-root, or --tuf-root for the staging TUF repository)

scan requirement:
  --require-scan                   require a clean signed scan attestation (model.sig -> model.scan.sig) for the
                                   same root digest, verified with the same trust policy
  --scan-attestation FILE          the scan attestation to require (implies --require-scan)

--hash and --shard-size are accepted for model_signing compatibility and
checked against the bundle: verification always uses the recorded values.`;

export const FLAGS: NonNullable<
  import('node:util').ParseArgsConfig['options']
> = {
  ...OUTPUT_FLAGS,
  signature: { type: 'string' },
  bundle: { type: 'string' },
  'ignore-paths': { type: 'string', multiple: true },
  'ignore-unsigned-files': { type: 'boolean' },
  'allow-symlinks': { type: 'boolean' },
  'hf-cache': { type: 'boolean' },
  'verify-cache': { type: 'string' },
  'ignore-git-paths': { type: 'boolean' },
  hash: { type: 'string' },
  'shard-size': { type: 'string' },
  threads: { type: 'string' },
  'public-key': { type: 'string' },
  'timestamp-certificate': { type: 'string', multiple: true },
  'certificate-chain': { type: 'string', multiple: true },
  'key-fingerprint': { type: 'string' },
  'max-bundle-bytes': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  'certificate-email': { type: 'string', multiple: true },
  'certificate-email-regexp': { type: 'string', multiple: true },
  'certificate-uri': { type: 'string', multiple: true },
  'certificate-uri-regexp': { type: 'string', multiple: true },
  'certificate-dns': { type: 'string', multiple: true },
  'certificate-dns-regexp': { type: 'string', multiple: true },
  'certificate-subject': { type: 'string', multiple: true },
  'certificate-subject-regexp': { type: 'string', multiple: true },
  'certificate-eku': { type: 'string', multiple: true },
  identity: { type: 'string' },
  'certificate-identity': { type: 'string' },
  'identity-provider': { type: 'string' },
  'certificate-oidc-issuer': { type: 'string' },
  'identity-regexp': { type: 'string' },
  'certificate-identity-regexp': { type: 'string' },
  'identity-provider-regexp': { type: 'string' },
  'certificate-oidc-issuer-regexp': { type: 'string' },
  'trusted-root': { type: 'string' },
  offline: { type: 'boolean' },
  'tuf-mirror': { type: 'string' },
  'tuf-root': { type: 'string' },
  'use-staging': { type: 'boolean' },
  'require-scan': { type: 'boolean' },
  'scan-attestation': { type: 'string' },
} as const;

const SIGSTORE_FLAGS = [
  'identity',
  'certificate-identity',
  'identity-provider',
  'certificate-oidc-issuer',
  'identity-regexp',
  'certificate-identity-regexp',
  'identity-provider-regexp',
  'certificate-oidc-issuer-regexp',
  'trusted-root',
  'offline',
  'tuf-mirror',
  'tuf-root',
  'use-staging',
];
/** Constraint flags of the certificate method: flag → identity policy field. */
const CERTIFICATE_CONSTRAINTS: readonly [string, string][] = [
  ['certificate-email', 'email'],
  ['certificate-uri', 'uri'],
  ['certificate-dns', 'dns'],
  ['certificate-subject', 'subject'],
];
export const METHOD_FLAGS: Record<CliMethod, readonly string[]> = {
  key: ['public-key', 'timestamp-certificate', 'key-fingerprint'],
  certificate: [
    'certificate-chain',
    'timestamp-certificate',
    // The identity flags: any SAN entry, and the OIDC issuer extension.
    ...SIGSTORE_FLAGS.filter((f) => /identity|oidc-issuer/.test(f)),
    ...CERTIFICATE_CONSTRAINTS.flatMap(([f]) => [f, `${f}-regexp`]),
    'certificate-eku',
  ],
  sigstore: SIGSTORE_FLAGS,
};

/** The certificate method's identity policy, from its flags (all must hold). */
function identityPolicyFrom(parsed: Parsed): Record<string, string>[] {
  const policy: Record<string, string>[] = [];
  const single = (field: string, name: string, alias: string): void => {
    const value = aliased(parsed, name, alias);
    const regexp = aliased(parsed, `${name}-regexp`, `${alias}-regexp`);
    if (value !== undefined) policy.push({ field, value });
    if (regexp !== undefined) policy.push({ field, regexp });
  };
  single('san', 'identity', 'certificate-identity');
  single('oidc-issuer', 'identity-provider', 'certificate-oidc-issuer');
  for (const [name, field] of CERTIFICATE_CONSTRAINTS) {
    for (const value of list(parsed, name)) policy.push({ field, value });
    for (const regexp of list(parsed, `${name}-regexp`))
      policy.push({ field, regexp });
  }
  for (const value of list(parsed, 'certificate-eku'))
    policy.push({ field: 'eku', value });
  return policy;
}

function timestampAuthorities(parsed: Parsed): {
  timestampAuthorities?: string[];
} {
  const files = list(parsed, 'timestamp-certificate');
  return files.length === 0 ? {} : { timestampAuthorities: files };
}

/** A flag given under its model_signing name or its cosign alias. */
function aliased(
  parsed: Parsed,
  name: string,
  alias: string,
): string | undefined {
  const a = str(parsed, name);
  const b = str(parsed, alias);
  if (a !== undefined && b !== undefined && a !== b)
    throw new UsageError(
      `--${name} and --${alias} are the same flag; give one`,
    );
  return a ?? b;
}

/** Which trusted root: a refresh through TUF unless offline or a root file is given (docs/user-guide.md). */
function trustRootOptions(
  parsed: Parsed,
  trustedRoot: string | undefined,
): Record<string, unknown> {
  const mirror = str(parsed, 'tuf-mirror');
  const tufRoot = str(parsed, 'tuf-root');
  const tuf = mirror !== undefined || tufRoot !== undefined;
  if (flag(parsed, 'offline')) {
    if (tuf)
      throw new UsageError(
        '--offline uses no tuf repository: drop --tuf-mirror and --tuf-root',
      );
    return { offline: true };
  }
  if (trustedRoot !== undefined) {
    if (tuf)
      throw new UsageError(
        'give --trusted-root or a tuf repository (--tuf-mirror, --tuf-root), not both',
      );
    return {};
  }
  const home = process.env['HOME'] ?? homedir();
  const cache = process.env['XDG_CACHE_HOME'] || join(home, '.cache');
  return {
    refreshTrustedRoot: true,
    tufCachePath: join(cache, 'modelseal', 'tuf'),
    ...(mirror === undefined ? {} : { tufMirrorURL: mirror }),
    ...(tufRoot === undefined ? {} : { tufRootPath: resolve(tufRoot) }),
  };
}

export function methodOptions(
  method: CliMethod,
  parsed: Parsed,
): Record<string, unknown> {
  switch (method) {
    case 'key': {
      const publicKey = str(parsed, 'public-key');
      if (publicKey === undefined)
        throw new UsageError('the key method needs --public-key');
      refusePrivateKeyFile(publicKey, '--public-key');
      const keyFingerprint = str(parsed, 'key-fingerprint');
      return {
        method,
        publicKey,
        ...(keyFingerprint === undefined ? {} : { keyFingerprint }),
        ...timestampAuthorities(parsed),
      };
    }
    case 'certificate': {
      const trustAnchors = list(parsed, 'certificate-chain');
      if (trustAnchors.length === 0)
        throw new UsageError(
          'the certificate method needs --certificate-chain with the trusted CA certificates',
        );
      const identityPolicy = identityPolicyFrom(parsed);
      return {
        method,
        trustAnchors,
        ...(identityPolicy.length === 0 ? {} : { identityPolicy }),
        ...timestampAuthorities(parsed),
      };
    }
    case 'sigstore': {
      const options: Record<string, unknown> = { method };
      const identity = aliased(parsed, 'identity', 'certificate-identity');
      const identityRegExp = aliased(
        parsed,
        'identity-regexp',
        'certificate-identity-regexp',
      );
      const issuer = aliased(
        parsed,
        'identity-provider',
        'certificate-oidc-issuer',
      );
      const issuerRegExp = aliased(
        parsed,
        'identity-provider-regexp',
        'certificate-oidc-issuer-regexp',
      );
      if ((identity === undefined) === (identityRegExp === undefined)) {
        throw new UsageError(
          'the sigstore method needs exactly one of --identity and --identity-regexp',
        );
      }
      if ((issuer === undefined) === (issuerRegExp === undefined)) {
        throw new UsageError(
          'the sigstore method needs exactly one of --identity-provider and --identity-provider-regexp',
        );
      }
      if (identity !== undefined) options.identity = identity;
      if (identityRegExp !== undefined) options.identityRegExp = identityRegExp;
      if (issuer !== undefined) options.issuer = issuer;
      if (issuerRegExp !== undefined) options.issuerRegExp = issuerRegExp;
      const trustedRoot = str(parsed, 'trusted-root');
      if (trustedRoot !== undefined) options.trustedRoot = resolve(trustedRoot);
      if (flag(parsed, 'use-staging')) options.staging = true;
      Object.assign(options, trustRootOptions(parsed, trustedRoot));
      return options;
    }
  }
}

function checkRecorded(
  parsed: Parsed,
  result: VerifyModelSignatureResult,
  io: Io,
): void {
  const s = result.manifest.serialization;
  const hash = str(parsed, 'hash');
  if (hash !== undefined && hash !== s.hashType) {
    io.err(
      `modelseal: warning: --hash ${safeText(hash)} ignored: the bundle records ${safeText(s.hashType)}, which was used`,
    );
  }
  const shardSize = str(parsed, 'shard-size');
  if (
    shardSize !== undefined &&
    (s.method !== 'shards' || String(s.shardSize) !== shardSize)
  ) {
    io.err(
      `modelseal: warning: --shard-size ${safeText(shardSize)} ignored: the bundle records ${s.method === 'shards' ? `shards of ${safeText(s.shardSize)}` : 'files'}, which was used`,
    );
  }
}

/** One line: where the Sigstore trusted root came from. */
function describeTrustRoot(
  info: NonNullable<VerifyModelSignatureResult['trustRoot']>,
): string {
  switch (info.source) {
    case 'tuf': {
      const meta = [
        info.targetsVersion === undefined
          ? undefined
          : `targets v${info.targetsVersion}`,
        info.rootVersion === undefined
          ? undefined
          : `root v${info.rootVersion}`,
        info.expires === undefined ? undefined : `expires ${info.expires}`,
        info.fromCache === true ? 'from the cache' : undefined,
      ].filter((x) => x !== undefined);
      return `tuf ${safeText(info.mirrorURL ?? '')}${meta.length > 0 ? ` (${safeText(meta.join(', '))})` : ''}`;
    }
    case 'embedded':
      return 'embedded (the public-good root shipped with modelseal)';
    case 'file':
      return `file${info.path === undefined ? '' : ` ${safeText(info.path)}`}`;
  }
}

/** Files of each kind listed before a count, unless --verbose. */
const LISTED = 20;

/** The mismatch lines, at most LISTED of each kind (missing/unsigned/changed) and a count, unless `verbose`. */
function summarised(lines: readonly string[], verbose: boolean): string[] {
  if (verbose) return [...lines];
  const out: string[] = [];
  const count = new Map<string, number>();
  for (const line of lines) {
    const kind = /^\s*(\w+):/.exec(line)?.[1] ?? '';
    const n = (count.get(kind) ?? 0) + 1;
    count.set(kind, n);
    if (n <= LISTED) out.push(line);
  }
  for (const [kind, n] of count)
    if (n > LISTED)
      out.push(
        `  ... and ${n - LISTED} more ${kind} (--verbose or --json lists every file)`,
      );
  return out;
}

/** `--max-bundle-bytes N` as the library's bundle limit. */
function bundleLimitsFrom(parsed: Parsed): {
  bundleLimits?: { maxBytes: number };
} {
  const maxBytes = positiveInteger(parsed, 'max-bundle-bytes');
  return maxBytes === undefined ? {} : { bundleLimits: { maxBytes } };
}

/** `modelseal verify [METHOD] MODEL_PATH`. */
export async function verifyCommand(
  argv: readonly string[],
  io: Io,
): Promise<ExitCode> {
  // OCI images: the registry client loads only for this subcommand.
  if (argv[0] === 'oci')
    return (await import('./oci.js')).verifyOciCommand(argv.slice(1), io);
  const parsed = parse(argv, FLAGS);
  if (parsed.values.help === true) {
    io.out(VERIFY_HELP);
    return EXIT.OK;
  }
  const { method, path } = methodAndModel(parsed.positionals);
  onlyFor(method, parsed.values, METHOD_FLAGS);
  if (io.audit)
    Object.assign(io.audit, {
      modelPath: path,
      method,
      signaturePath: signaturePathFrom(parsed),
    });
  const progress = progressReporter(progressModeFrom(parsed));
  const options = {
    ...methodOptions(method, parsed),
    modelPath: path,
    bundlePath: signaturePathFrom(parsed),
    ignorePaths: list(parsed, 'ignore-paths').map((p) => resolve(p)),
    ignoreUnsignedFiles: flag(parsed, 'ignore-unsigned-files'),
    ...bundleLimitsFrom(parsed),
    ...(parsed.values['allow-symlinks'] === false
      ? { allowSymlinks: false }
      : {}),
    ...(typeof parsed.values['hf-cache'] === 'boolean'
      ? { hfCache: parsed.values['hf-cache'] }
      : {}),
    ...(str(parsed, 'verify-cache') === undefined
      ? {}
      : { verifyCache: resolve(str(parsed, 'verify-cache')!) }),
    ...(threadsFrom(parsed) === undefined
      ? {}
      : { concurrency: threadsFrom(parsed) }),
    ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
  } as unknown as VerifyModelSignatureOptions;

  // A bundle this large signs hundreds of files or more: the process is
  // tuned for the tables such a verify builds, before the statement is
  // decoded. Its decode would otherwise grow V8's young generation and get
  // hot enough for TurboFan (5.4 MiB of the `node` binary paged in, and
  // its compile memory): at 200,000 files 96-102 -> 92.5 MiB, the decode
  // 40 % slower; at 5,000 (1.1 MB of bundle) 96.8 -> 91.3 MiB, 400 (89 KB)
  // 72.7 -> 66.3, both with less CPU. The modules the library loads after
  // this lose their code cache (process/v8-flags.ts), and so does a hash
  // worker the CLI started ahead and still loading (none for a tree of more
  // than 64 files; one file in 2,048 shards, a 566 KB bundle, still gained:
  // 93.0 -> 88.0 MiB, 1.78 -> 1.72 s of CPU).
  if (fileSize(options.bundlePath) >= TUNED_BUNDLE_BYTES) {
    // The young generation kept at its first size (V8 doubles it as objects
    // survive: 4-5 MiB of the peak at 200,000 files), and no TurboFan; no
    // Maglev inlining either when the CLI's start saw large ranges
    // (bin/modelseal.js, addStatementFlags).
    const { setStatementFlags } = await import('../process/v8-flags.js');
    setStatementFlags();
  }
  let result: VerifyModelSignatureResult;
  try {
    result = await verifyModelSignature(options);
  } catch (error) {
    progress.done();
    if (
      !flag(parsed, 'json') &&
      isModelSealError(error) &&
      error.code === 'MANIFEST_MISMATCH'
    ) {
      for (const line of summarised(
        describeMismatch(error.details),
        flag(parsed, 'verbose'),
      ))
        io.err(line);
    }
    throw withFlagHint(
      error,
      fileFlagsOf(parsed, path, [
        [signaturePathFrom(parsed), '--signature FILE'],
      ]),
      // The size cap is the one bundle limit a flag sets: name it, not the file.
      isModelSealError(error) &&
        (error.details as { limit?: unknown } | undefined)?.limit === 'maxBytes'
        ? { BUNDLE_LIMIT_EXCEEDED: '--max-bundle-bytes N' }
        : {},
    );
  }
  progress.done();
  let scan: ScanAttestationResult | undefined;
  const attestation = str(parsed, 'scan-attestation');
  if (attestation !== undefined || flag(parsed, 'require-scan')) {
    // Loaded only when asked for: a plain verify never pays for it.
    const { defaultScanAttestationPath, verifyScanAttestation } =
      await import('@modelseal/core/attest');
    const path =
      attestation === undefined
        ? defaultScanAttestationPath(options.bundlePath)
        : resolve(attestation);
    scan = await verifyScanAttestation(
      options,
      path,
      result.manifest.rootDigest,
    );
  }
  checkRecorded(parsed, result, io);
  for (const warning of result.warnings)
    io.err(`modelseal: warning: ${safeText(warning.message)}`);
  const { manifest } = result;
  if (io.audit) {
    Object.assign(io.audit, {
      modelName: manifest.modelName,
      rootDigest: manifest.rootDigest,
      resources: resourceCount(manifest),
      signer: result.signer as unknown as Record<string, unknown>,
      ...(await fileSha256Of(manifest)),
    });
  }
  if (flag(parsed, 'json')) {
    io.out(
      safeJSONStringify(
        {
          schemaVersion: 1,
          ...result,
          ...(scan === undefined ? {} : { scan }),
        },
        2,
      ),
    );
    return EXIT.OK;
  }
  io.out(
    `verified ${safeText(path)}: ${resourceCount(manifest)} resources match root sha256:${safeText(manifest.rootDigest)}`,
  );
  io.out(`  signer: ${describeSigner(result.signer)}`);
  if (result.trustRoot !== undefined)
    io.out(`  trusted root: ${describeTrustRoot(result.trustRoot)}`);
  if (result.signingTime !== undefined) {
    io.out(
      `  signed: ${result.signingTime.toISOString()} (${safeText(result.signingTimeSource)})`,
    );
  } else if (result.validityTime !== undefined) {
    io.out(
      `  certificates checked at: ${result.validityTime.toISOString()} (${safeText(result.signingTimeSource)})`,
    );
  }
  if (result.hfCache !== undefined) {
    io.out(
      `  hugging face cache: ${safeText(result.hfCache.repository)} snapshot ${safeText(result.hfCache.revision)} (links into its blobs/ followed)`,
    );
  }
  if (result.verifyCache !== undefined) {
    const c = result.verifyCache;
    io.out(
      `  verify cache: ${c.hits} of ${c.hits + c.misses} files unchanged since an earlier verify (${c.bytesSkipped} bytes not read), ${c.recorded} recorded`,
    );
  }
  if (scan !== undefined) {
    io.out(
      `  scanned clean: modelseal ${safeText(scan.scanner.version)}, fail-on ${safeText(scan.policy.failOn)}, every file to its end, at ${safeText(scan.scannedAt)} (${safeText(scan.attestationPath)})`,
    );
  }
  if (result.compare.extra.length > 0) {
    const extra = result.compare.extra;
    const shown = flag(parsed, 'verbose') ? extra : extra.slice(0, LISTED);
    io.out(
      `  tolerated unsigned files: ${shown.map((r) => safeText(r.name)).join(', ')}${shown.length < extra.length ? `, and ${extra.length - shown.length} more (--verbose lists every file)` : ''}`,
    );
  }
  return EXIT.OK;
}

/** Bundles from this size on (about 300 files) tune the process. */
const TUNED_BUNDLE_BYTES = 64 << 10;

/** A file's size, or 0 when it cannot be read (the verify then says why). */
function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
