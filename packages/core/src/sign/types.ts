// SPDX-License-Identifier: Apache-2.0
/**
 * Types of signing (oms-format.md §2, §14).
 */
import type { KeyObject } from 'node:crypto';
import type { SigningMethod } from '../bundle/types.js';
import type { KeyInput, RsaPadding } from '../internal/keys.js';
import type {
  HashModelOptions,
  Manifest,
  ManifestWarning,
  SerializationMethod,
} from '../manifest/types.js';
import type { ScanProgressEvent, ScanReport } from '../scan/engine.js';
import type { ScanPolicy } from '../scan/policy.js';
import type { ScanLimits, Severity } from '../scan/types.js';
import type { CertificateInfo } from '../verify/types.js';
import type { SigstoreSignOptions } from './sigstore.js';

export type { KeyInput, RsaPadding } from '../internal/keys.js';

/** Who a {@link StatementSigner} signs as. */
export type SignedBy =
  | {
      method: 'key';
      hint: string;
      fingerprint: string;
      keyType: string;
      scheme: string;
    }
  | {
      method: 'certificate';
      certificate: CertificateInfo;
      /** Certificates written to the bundle (leaf included). */
      chainLength: number;
      keyType: string;
      scheme: string;
    }
  | {
      method: 'sigstore';
      identity: string | undefined;
      issuer: string | undefined;
    };

/**
 * Signs an in-toto statement into a complete bundle (JSON value). The same
 * role as `Signer` in sigstore-js, one level up: key sources such as PKCS#11
 * or a KMS can plug in here later.
 */
export interface StatementSigner {
  readonly method: SigningMethod;
  /** What is known about the signer before signing (sigstore: nothing yet). */
  readonly signedBy: SignedBy;
  /** Sign the statement bytes (the DSSE payload) and return the bundle JSON. */
  sign(statement: Buffer): Promise<Record<string, unknown>>;
}

/**
 * A signing key held outside this process: a PKCS#11 token, an HSM or a
 * cloud KMS. An adapter gives the public key and signs bytes; modelseal does
 * the rest ({@link statementSignerFrom} turns it into a key-bundle
 * {@link StatementSigner}, checking every signature with the public key).
 * `createPkcs11Signer` is one implementation; a KMS adapter implements the
 * same three members.
 */
export interface Signer {
  /** The public half of the signing key (EC P-256/P-384/P-521, Ed25519 or RSA ≥ 2048 bits). */
  readonly publicKey: KeyObject;
  /** For RSA keys: the padding `sign` produces. Default `pkcs1v15`. */
  readonly rsaPadding?: RsaPadding;
  /** Where the key lives, for messages (never a secret), e.g. `pkcs11:token=ci;object=k`. */
  readonly description?: string;
  /**
   * Sign `data` (the DSSE pre-authentication encoding) with the hash the key
   * type implies: SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for
   * P-521, none for Ed25519. ECDSA signatures are DER (`ECDSA-Sig-Value`),
   * as X.509 and KMS APIs return them; RSA signatures are the raw modulus-size
   * block.
   */
  sign(data: Buffer): Promise<Uint8Array>;
}

/** Options of {@link createKeySigner}. */
export interface KeySignerOptions {
  /** Private key: file path, PEM/DER bytes, or KeyObject. EC P-256/P-384/P-521, Ed25519 or RSA (≥ 2048 bits). */
  privateKey: KeyInput;
  /** Password of an encrypted private key. */
  password?: string | Uint8Array;
  /**
   * RSA padding. Default `pkcs1v15` (PKCS#1 v1.5 with SHA-256, what the Go
   * port verifies); `pss` for RSASSA-PSS with SHA-256 and a digest-length salt.
   */
  rsaPadding?: RsaPadding;
}

/** Options of {@link createCertificateSigner}. */
export interface CertificateSignerOptions extends KeySignerOptions {
  /** Leaf certificate (path or PEM/DER bytes). Further certificates in the same PEM are appended to the chain. */
  signingCertificate: string | Uint8Array;
  /** Chain certificates, leaf-to-root order (paths or bytes; a PEM may hold several). */
  certificateChain?: readonly (string | Uint8Array)[];
}

/**
 * Hashing options of {@link signModel}: those of `hashModel`, with the
 * serialization method renamed `serialization` (`method` names the signing
 * method) and the signature path given separately.
 */
export interface SignHashOptions extends Omit<
  HashModelOptions,
  'signaturePath' | 'method'
> {
  /** `files` (default) or `shards`. */
  serialization?: SerializationMethod;
}

/** The scan gate of {@link signModel}: scan before signing, optionally attest the result. */
export interface SignScanOptions {
  /** Refuse to sign when a finding reaches this severity (or a file cannot be scanned). Default `high`. */
  failOn?: Severity;
  /** Scanner policy (allow and deny additions). */
  policy?: ScanPolicy;
  /** Scanner limits; defaults in `DEFAULT_SCAN_LIMITS`. A limit that stops the scan makes it incomplete, which refuses by default. */
  limits?: Partial<ScanLimits>;
  /** Sign despite findings. The reason is recorded in the scan attestation and the result when the scan was not clean (a clean scan overrides nothing and records none). */
  overrideReason?: string;
  /** Also write a signed scan attestation here (subject: the model's root digest). Left out of the model. */
  attestationPath?: string;
  /** Called after each file scanned. */
  onProgress?: (event: ScanProgressEvent) => void;
}

interface SignModelCommonOptions extends SignHashOptions {
  /** Scan the files being signed first, and refuse to sign unsafe content (`UNSAFE_CONTENT`). */
  scan?: SignScanOptions;
  /** The model directory or single file. */
  modelPath: string;
  /** Where to write the bundle; left out of the model when it lies inside it. */
  signaturePath: string;
  /** Overwrite an existing bundle. Default false (`FILE_EXISTS`). */
  force?: boolean;
}

/** {@link signModel} with a private key. */
export interface SignModelKeyOptions
  extends SignModelCommonOptions, KeySignerOptions {
  method: 'key';
  /** Countersign with this RFC 3161 timestamp authority (base URL or full endpoint). */
  tsaURL?: string;
}

/** {@link signModel} with a certificate. */
export interface SignModelCertificateOptions
  extends SignModelCommonOptions, CertificateSignerOptions {
  method: 'certificate';
  /** Countersign with this RFC 3161 timestamp authority: verifiers that trust it check the certificates at that time. */
  tsaURL?: string;
}

/** {@link signModel} with Sigstore keyless signing. */
export interface SignModelSigstoreOptions
  extends SignModelCommonOptions, Omit<SigstoreSignOptions, 'signal'> {
  method: 'sigstore';
}

/** {@link signModel} with a signer of the caller's own. */
export interface SignModelSignerOptions extends SignModelCommonOptions {
  method: 'signer';
  signer: StatementSigner;
}

/** Options of {@link signModel}, by method. */
export type SignModelOptions =
  | SignModelKeyOptions
  | SignModelCertificateOptions
  | SignModelSigstoreOptions
  | SignModelSignerOptions;

/** A non-fatal observation of signing. */
export interface SignWarning {
  code:
    | ManifestWarning['code']
    | 'CERTIFICATE_NOT_VALID_NOW'
    | 'CERTIFICATE_CANNOT_SIGN';
  message: string;
  path?: string;
}

/** Result of {@link signModel}. */
export interface SignModelResult {
  method: SigningMethod;
  /** Absolute path of the bundle written. */
  signaturePath: string;
  /** The bundle as written (JSON value). */
  bundle: Record<string, unknown>;
  /** The signed statement bytes (the DSSE payload). */
  statement: Buffer;
  manifest: Manifest;
  signedBy: SignedBy;
  warnings: SignWarning[];
  /** Bytes hashed. */
  bytes: number;
  /** The scan gate's outcome, when `scan` was given. */
  scan?: {
    report: ScanReport;
    verdict: 'clean' | 'findings';
    /** The override reason, when the model was signed despite findings. */
    overrideReason?: string;
    attestationPath?: string;
  };
}
