// SPDX-License-Identifier: Apache-2.0
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SEVERITIES, type Severity } from '@modelseal/core/scan/report';
import { loadScanPolicy } from '@modelseal/core/scan/policy';
import { defaultScanAttestationPath } from '@modelseal/core/attest';
import { isModelSealError } from '@modelseal/core/errors';
import { safeJSONStringify, safeText } from '@modelseal/core/output';
import {
  type InteractiveOidcOptions,
  type SignScanOptions,
  signModel,
  type SignModelOptions,
  type SignModelResult,
} from '@modelseal/core/sign';
import { flag, list, parse, str, type Parsed } from '../args.js';
import { EXIT, UsageError, type ExitCode } from '../exit-codes.js';
import type { Io } from '../io.js';
import { withFlagHint } from '../output/errors.js';
import { fileFlagsOf } from './key-files.js';
import { progressReporter } from '../output/progress.js';
import { describeBlocking } from '../output/blocking.js';
import { describeSignedBy } from '../output/text.js';
import { canPrompt, promptPassword } from '../prompt.js';
import {
  MODEL_FLAGS,
  OUTPUT_FLAGS,
  hashOptionsFrom,
  progressModeFrom,
  fileSha256Of,
} from './common.js';
import { limitHelp, limitsFrom } from './limits.js';
import { signaturePathFrom } from './common.js';

export { signaturePathFrom };
import { methodAndModel, onlyFor, type CliMethod } from './method.js';
import { pkcs11SignerFrom } from './pkcs11.js';

export const SIGN_HELP: string = `usage: modelseal sign [sigstore|key|certificate] MODEL_PATH [options]

Hashes every file of the model and writes a signed OMS bundle (default
model.sig in the current directory). The method defaults to sigstore.

common options:
  --signature FILE, --bundle FILE  where to write the bundle (default model.sig)
  --force                          overwrite an existing bundle
  --hash sha256|blake2b|blake3     hash of each file or shard (default sha256)
  --shard-size N                   hash shards of N bytes instead of whole files
  --threads N                      hashing threads, this one included (default: one per core)
  --ignore-paths PATH              leave PATH out (repeatable; relative to the current directory)
  --no-ignore-git-paths            sign .git, .gitattributes, .github, .gitignore too
  --allow-symlinks                 follow symlinks to files
  --json                           print the result as JSON on stdout
  --progress auto|plain|none, -q   progress on stderr

scan gate (the files are scanned before signing):
  --fail-on SEVERITY               refuse to sign when a finding reaches critical|high|medium|low|info (default high)
  --allow-unsafe REASON            sign despite findings; REASON is recorded in the scan attestation and audit log (not needed, nor recorded, when the scan is clean)
  --scan-policy FILE               scanner policy file (docs/scan-policy.md)
${limitHelp(35)}
                                   A file not fully scanned refuses like a high finding.
  --attest-scan                    also write a signed scan attestation beside the bundle (model.sig -> model.scan.sig)
  --scan-attestation FILE          write the signed scan attestation to FILE

key and certificate:
  --private-key FILE               PEM or DER private key: EC P-256/P-384/P-521, Ed25519 or RSA
  --password-env VAR               read the key's password from the environment variable VAR
  --password PASSWORD              the key's password (visible to other users: prefer --password-env)
                                   (an encrypted key with neither prompts when on a terminal)
  --rsa-padding pkcs1v15|pss       RSA signature padding (default pkcs1v15)
  --tsa-url URL                    countersign with an RFC 3161 timestamp authority (proves the signing time)
key on a PKCS#11 token (HSM, smart card, SoftHSM) instead of --private-key:
  --pkcs11-uri URI                 RFC 7512 URI: pkcs11:token=LABEL;object=KEY?module-path=/path/module.so
                                   (PIN: pin-value or pin-source in the URI, --pin-env, or asked on a terminal)
  --pin-env VAR                    read the token's user PIN from the environment variable VAR
  --export-public-key FILE         write the token key's public key (SPKI PEM), for verify key --public-key
certificate:
  --signing-certificate FILE       the leaf certificate (its key must be --private-key)
  --certificate-chain FILE         intermediate certificates, leaf to root (repeatable)
sigstore (keyless):
  --identity-token TOKEN|FILE      OIDC identity token (else SIGSTORE_ID_TOKEN or CI ambient credentials)
  --no-use-ambient-credentials     do not look for CI ambient credentials
  --oidc-flow browser|device|none  sign in interactively when no token or ambient credential applies:
                                   browser (loopback redirect + PKCE; the URL is printed, a browser opened
                                   on a desktop) or device (a code to enter on any device; headless);
                                   default browser when stderr is a terminal outside CI or an
                                   --oidc-* option below is given, else none
  --oidc-issuer URL                OpenID issuer (default https://oauth2.sigstore.dev/auth)
  --oidc-client-id ID              OAuth client id (default sigstore)
  --oidc-redirect-port N           browser flow: loopback port of the redirect (default: any free port)
  --use-staging                    Sigstore staging instead of public-good
  --signing-config FILE            a SigningConfig JSON choosing Fulcio, Rekor and TSA (private instance)
  --trust-config FILE              a ClientTrustConfig JSON (trusted root + signing config)
  --fulcio-url URL, --rekor-url URL, --tsa-url URL, --no-tsa
                                   service endpoints (private instances)
  --rekor-entry-type dsse|intoto   Rekor v1 entry kind (default dsse, as model_signing)`;

export const FLAGS: NonNullable<
  import('node:util').ParseArgsConfig['options']
> = {
  ...MODEL_FLAGS,
  ...OUTPUT_FLAGS,
  signature: { type: 'string' },
  bundle: { type: 'string' },
  force: { type: 'boolean' },
  'private-key': { type: 'string' },
  password: { type: 'string' },
  'password-env': { type: 'string' },
  'rsa-padding': { type: 'string' },
  'pkcs11-uri': { type: 'string' },
  'pin-env': { type: 'string' },
  'export-public-key': { type: 'string' },
  'signing-certificate': { type: 'string' },
  'certificate-chain': { type: 'string', multiple: true },
  'identity-token': { type: 'string' },
  'use-ambient-credentials': { type: 'boolean', default: true },
  'oidc-flow': { type: 'string' },
  'oidc-issuer': { type: 'string' },
  'oidc-client-id': { type: 'string' },
  'oidc-redirect-port': { type: 'string' },
  'use-staging': { type: 'boolean' },
  'signing-config': { type: 'string' },
  'trust-config': { type: 'string' },
  'fulcio-url': { type: 'string' },
  'rekor-url': { type: 'string' },
  'tsa-url': { type: 'string' },
  tsa: { type: 'boolean', default: true },
  'rekor-entry-type': { type: 'string' },
  'fail-on': { type: 'string' },
  'allow-unsafe': { type: 'string' },
  'scan-policy': { type: 'string' },
  limit: { type: 'string', multiple: true },
  'attest-scan': { type: 'boolean' },
  'scan-attestation': { type: 'string' },
} as const;

export const METHOD_FLAGS: Record<CliMethod, readonly string[]> = {
  key: [
    'private-key',
    'password',
    'password-env',
    'rsa-padding',
    'pkcs11-uri',
    'pin-env',
    'export-public-key',
  ],
  certificate: [
    'private-key',
    'password',
    'password-env',
    'rsa-padding',
    'signing-certificate',
    'certificate-chain',
  ],
  sigstore: [
    'identity-token',
    'use-staging',
    'signing-config',
    'trust-config',
    'fulcio-url',
    'rekor-url',
    'rekor-entry-type',
    'oidc-flow',
    'oidc-issuer',
    'oidc-client-id',
    'oidc-redirect-port',
  ],
};

/** The signature path from --signature / --bundle (cosign's name), default model.sig in the current directory. */
function readJSONFile(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (error) {
    throw new UsageError(
      `${what} ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function passwordFrom(
  parsed: Parsed,
  env: NodeJS.ProcessEnv,
): string | undefined {
  const direct = str(parsed, 'password');
  const variable = str(parsed, 'password-env');
  if (direct !== undefined && variable !== undefined)
    throw new UsageError('give --password or --password-env, not both');
  if (variable === undefined) return direct;
  const value = env[variable];
  if (value === undefined)
    throw new UsageError(
      `--password-env ${variable}: the environment variable is not set`,
    );
  return value;
}

/** Three base64url segments (the library checks the token itself). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * `--identity-token TOKEN|FILE`: a JWT as given, else the content of the file
 * of that name. Neither: a usage error that names the value when it is a
 * path (it holds a `/`, which no JWT does); other values may be a mangled
 * secret and are not printed.
 */
function identityTokenFrom(value: string): string {
  if (JWT_SHAPE.test(value.trim())) return value;
  let content: string;
  try {
    content = readFileSync(value, 'utf8').trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'a directory'
          : (code ?? (error as Error).message);
    throw new UsageError(
      value.includes('/') || existsSync(value)
        ? `--identity-token ${value}: neither a JWT nor a readable file (${reason})`
        : '--identity-token: neither a JWT nor a readable file (the value is not printed: it may be a secret)',
    );
  }
  if (!JWT_SHAPE.test(content))
    throw new UsageError(
      `--identity-token ${value}: the file does not hold a JWT (three base64url segments)`,
    );
  return content;
}

export function methodOptions(
  method: CliMethod,
  parsed: Parsed,
  io: Io,
): Partial<SignModelOptions> & { method: CliMethod } {
  if (method === 'key' || method === 'certificate') {
    const privateKey = str(parsed, 'private-key');
    if (privateKey === undefined)
      throw new UsageError(`the ${method} method needs --private-key`);
    const options: Record<string, unknown> = { method, privateKey };
    const password = passwordFrom(parsed, process.env);
    if (password !== undefined) options.password = password;
    const padding = str(parsed, 'rsa-padding');
    if (padding !== undefined) {
      if (padding !== 'pkcs1v15' && padding !== 'pss')
        throw new UsageError('--rsa-padding must be pkcs1v15 or pss');
      options.rsaPadding = padding;
    }
    const tsaURL = str(parsed, 'tsa-url');
    if (tsaURL !== undefined) options.tsaURL = tsaURL;
    if (method === 'certificate') {
      const certificate = str(parsed, 'signing-certificate');
      if (certificate === undefined)
        throw new UsageError(
          'the certificate method needs --signing-certificate',
        );
      options.signingCertificate = certificate;
      options.certificateChain = list(parsed, 'certificate-chain');
    }
    return options as Partial<SignModelOptions> & { method: CliMethod };
  }
  const options: Record<string, unknown> = { method };
  const token = str(parsed, 'identity-token');
  if (token !== undefined) options.identityToken = identityTokenFrom(token);
  options.useAmbientCredentials =
    parsed.values['use-ambient-credentials'] !== false;
  if (flag(parsed, 'use-staging')) options.staging = true;
  const signingConfig = str(parsed, 'signing-config');
  const trustConfig = str(parsed, 'trust-config');
  if (signingConfig !== undefined && trustConfig !== undefined)
    throw new UsageError('give --signing-config or --trust-config, not both');
  if (signingConfig !== undefined)
    options.signingConfig = readJSONFile(signingConfig, '--signing-config');
  if (trustConfig !== undefined) {
    const config = readJSONFile(trustConfig, '--trust-config') as {
      signingConfig?: unknown;
    };
    if (config.signingConfig === undefined)
      throw new UsageError(
        `--trust-config ${trustConfig}: no signingConfig in it`,
      );
    options.signingConfig = config.signingConfig;
  }
  for (const [name, key] of [
    ['fulcio-url', 'fulcioURL'],
    ['rekor-url', 'rekorURL'],
    ['tsa-url', 'tsaURL'],
  ] as const) {
    const value = str(parsed, name);
    if (value !== undefined) options[key] = value;
  }
  if (parsed.values.tsa === false) {
    if (options.tsaURL !== undefined)
      throw new UsageError('give --tsa-url or --no-tsa, not both');
    options.tsaURL = null;
  }
  const entryType = str(parsed, 'rekor-entry-type');
  if (entryType !== undefined) {
    if (entryType !== 'dsse' && entryType !== 'intoto')
      throw new UsageError('--rekor-entry-type must be dsse or intoto');
    options.rekorEntryType = entryType;
  }
  const interactive = interactiveFrom(parsed, io);
  if (interactive !== undefined) options.interactive = interactive;
  return options as Partial<SignModelOptions> & { method: CliMethod };
}

/**
 * The interactive sign-in the flags allow: `--oidc-flow` browser or device,
 * or by default the browser flow when a person watches stderr (not in CI).
 * The URL or code goes to stderr.
 */
function interactiveFrom(
  parsed: Parsed,
  io: Io,
): InteractiveOidcOptions | undefined {
  const flow = str(parsed, 'oidc-flow');
  if (
    flow !== undefined &&
    flow !== 'browser' &&
    flow !== 'device' &&
    flow !== 'none'
  )
    throw new UsageError('--oidc-flow must be browser, device or none');
  const port = str(parsed, 'oidc-redirect-port');
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) > 65535))
    throw new UsageError(
      '--oidc-redirect-port must be a port number (0-65535)',
    );
  if (port !== undefined && flow === 'device')
    throw new UsageError(
      '--oidc-redirect-port applies to the browser flow only',
    );
  const issuer = str(parsed, 'oidc-issuer');
  const clientId = str(parsed, 'oidc-client-id');
  const tuned =
    issuer !== undefined || clientId !== undefined || port !== undefined;
  if (flow === 'none' && tuned)
    throw new UsageError(
      '--oidc-issuer, --oidc-client-id and --oidc-redirect-port need an interactive --oidc-flow',
    );
  const allowed =
    flow === undefined
      ? tuned || (process.stderr.isTTY && (process.env.CI ?? '') === '')
      : flow !== 'none';
  if (!allowed) return undefined;
  const options: InteractiveOidcOptions = {
    flow: flow === 'device' ? 'device' : 'browser',
    onPrompt: (prompt) => {
      if (prompt.flow === 'device') {
        io.err(
          `modelseal: to sign in, visit ${prompt.verificationURL} and enter the code ${prompt.userCode}`,
        );
        if (prompt.verificationURLComplete !== undefined)
          io.err(`  (or open ${prompt.verificationURLComplete})`);
      } else {
        io.err(
          prompt.opened
            ? 'modelseal: a browser was opened to sign in; if none appeared, open this URL on this machine:'
            : 'modelseal: to sign in, open this URL in a browser on this machine (elsewhere: --oidc-flow device):',
        );
        io.err(`  ${prompt.url}`);
      }
      io.err('modelseal: waiting for the sign-in...');
    },
    ...(io.signal === undefined ? {} : { signal: io.signal }),
  };
  if (issuer !== undefined) options.issuer = issuer;
  if (clientId !== undefined) options.clientId = clientId;
  if (port !== undefined) options.redirectPort = Number(port);
  return options;
}

async function scanOptionsFrom(
  parsed: Parsed,
  signaturePath: string,
): Promise<SignScanOptions> {
  const scan: SignScanOptions = {};
  const failOn = str(parsed, 'fail-on');
  if (failOn !== undefined) {
    if (!(SEVERITIES as readonly string[]).includes(failOn)) {
      throw new UsageError(
        `--fail-on must be one of ${SEVERITIES.join(', ')}, got ${JSON.stringify(failOn)}`,
      );
    }
    scan.failOn = failOn as Severity;
  }
  const reason = str(parsed, 'allow-unsafe');
  if (reason !== undefined) {
    if (reason.trim() === '')
      throw new UsageError('--allow-unsafe needs a reason, which is recorded');
    scan.overrideReason = reason;
  }
  const policy = str(parsed, 'scan-policy');
  if (policy !== undefined)
    scan.policy = await loadScanPolicy(policy).catch((error: unknown) => {
      throw withFlagHint(error, new Map([[policy, '--scan-policy FILE']]));
    });
  const limits = limitsFrom(parsed);
  if (limits !== undefined) scan.limits = limits;
  const attestation = str(parsed, 'scan-attestation');
  if (attestation !== undefined) scan.attestationPath = resolve(attestation);
  else if (flag(parsed, 'attest-scan'))
    scan.attestationPath = defaultScanAttestationPath(signaturePath);
  return scan;
}

/** signModel; an encrypted key and no password: ask, when a person is at a terminal. */
async function signWithPrompt(
  options: SignModelOptions,
  parsed: Parsed,
  io: Io,
): Promise<SignModelResult> {
  try {
    return await signModel(options);
  } catch (error) {
    if (
      !isModelSealError(error) ||
      error.code !== 'PASSWORD_REQUIRED' ||
      !canPrompt()
    )
      throw error;
  }
  const password = await promptPassword(
    `password for ${safeText(str(parsed, 'private-key') ?? 'the private key')}: `,
    io.signal,
  );
  return signModel({ ...options, password } as SignModelOptions);
}

/** `modelseal sign [METHOD] MODEL_PATH`. */
export async function signCommand(
  argv: readonly string[],
  io: Io,
): Promise<ExitCode> {
  // OCI images: the registry client loads only for this subcommand.
  if (argv[0] === 'oci')
    return (await import('./oci.js')).signOciCommand(argv.slice(1), io);
  const parsed = parse(argv, FLAGS);
  if (parsed.values.help === true) {
    io.out(SIGN_HELP);
    return EXIT.OK;
  }
  const { method, path } = methodAndModel(parsed.positionals);
  onlyFor(method, parsed.values, METHOD_FLAGS);
  const signaturePath = signaturePathFrom(parsed);
  if (io.audit)
    Object.assign(io.audit, { modelPath: path, method, signaturePath });
  const hashing = hashOptionsFrom(parsed);
  const { method: serialization, ...hashRest } = hashing;
  const scan = await scanOptionsFrom(parsed, signaturePath);
  const pkcs11 =
    method === 'key' ? await pkcs11SignerFrom(parsed, io) : undefined;
  const progress = progressReporter(progressModeFrom(parsed));
  if (progress.onScanProgress) scan.onProgress = progress.onScanProgress;
  const options = {
    scan,
    ...hashRest,
    ...(serialization === undefined ? {} : { serialization }),
    ...(pkcs11 === undefined
      ? methodOptions(method, parsed, io)
      : { method: 'signer', signer: pkcs11.statementSigner }),
    modelPath: path,
    signaturePath,
    force: flag(parsed, 'force'),
    ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
  } as SignModelOptions;

  // Which flag names each file, for messages about it.
  const fileFlags = fileFlagsOf(parsed, path, [
    [signaturePath, '--signature FILE'],
    ...(scan.attestationPath === undefined
      ? []
      : [[scan.attestationPath, '--scan-attestation FILE'] as const]),
  ]);
  let result: SignModelResult;
  try {
    result = await signWithPrompt(options, parsed, io);
  } catch (error) {
    progress.done();
    if (
      !flag(parsed, 'json') &&
      isModelSealError(error) &&
      error.code === 'UNSAFE_CONTENT'
    )
      for (const line of describeBlocking(error.details)) io.err(line);
    throw withFlagHint(error, fileFlags, {
      PASSWORD_REQUIRED:
        '--password-env VAR, or run on a terminal to be asked for it',
    });
  }
  progress.done();
  for (const warning of result.warnings)
    io.err(`modelseal: warning: ${safeText(warning.message)}`);
  if (result.scan?.overrideReason !== undefined) {
    // What was overridden: findings, files not fully scanned, unreadable files.
    const s = result.scan.report.summary;
    const what = [
      s.findings > 0 ? `${s.findings} finding(s)` : '',
      // An unreadable file is also incomplete: counted once, as unreadable.
      s.incomplete > s.errors
        ? `${s.incomplete - s.errors} file(s) not fully scanned`
        : '',
      s.errors > 0 ? `${s.errors} file(s) unreadable` : '',
    ].filter((part) => part !== '');
    io.err(
      `modelseal: warning: signed despite the scan (${what.join(', ')}); override recorded: ${safeText(result.scan.overrideReason)}`,
    );
  }
  const { manifest } = result;
  if (io.audit) {
    Object.assign(io.audit, {
      modelName: manifest.modelName,
      rootDigest: manifest.rootDigest,
      resources: manifest.resources.length,
      bytes: result.bytes,
      signer: result.signedBy,
      ...(await fileSha256Of(manifest)),
    });
    if (result.scan !== undefined) {
      io.audit.findings = { ...result.scan.report.summary.bySeverity };
      if (result.scan.overrideReason !== undefined)
        io.audit.reason = `signed despite scan findings: ${result.scan.overrideReason}`;
    }
  }
  if (flag(parsed, 'json')) {
    io.out(
      safeJSONStringify(
        {
          schemaVersion: 1,
          ok: true,
          signature: result.signaturePath,
          method: result.method,
          modelName: manifest.modelName,
          rootDigest: manifest.rootDigest,
          resources: manifest.resources.length,
          bytes: result.bytes,
          signer: result.signedBy,
          warnings: result.warnings,
          scan:
            result.scan === undefined
              ? undefined
              : {
                  verdict: result.scan.verdict,
                  summary: result.scan.report.summary,
                  overrideReason: result.scan.overrideReason,
                  attestation: result.scan.attestationPath,
                },
        },
        2,
      ),
    );
  } else {
    io.out(
      `signed ${safeText(manifest.modelName)}: ${manifest.resources.length} resources, root sha256:${manifest.rootDigest}`,
    );
    io.out(`  signer: ${describeSignedBy(result.signedBy)}`);
    io.out(`  bundle: ${safeText(result.signaturePath)}`);
    if (result.scan !== undefined) {
      const s = result.scan.report.summary;
      io.out(
        `  scan: ${result.scan.verdict}${result.scan.overrideReason !== undefined ? ' (overridden)' : ''}, ${s.files} files, ${s.findings} findings${s.highest ? `, highest ${s.highest}` : ''}${s.incomplete > 0 ? `, ${s.incomplete} not fully scanned` : ''}`,
      );
    }
    if (result.scan?.attestationPath !== undefined)
      io.out(`  scan attestation: ${safeText(result.scan.attestationPath)}`);
  }
  return EXIT.OK;
}
