// SPDX-License-Identifier: Apache-2.0
/**
 * The OMS conformance adapter: the command-line protocol the public OMS
 * conformance suite drives (`sign-model`, `verify-model`, `capabilities`,
 * `benchmark-model`), built only on @modelseal/core's public API. All input
 * comes as flags; only the exit status counts (0 success, else failure).
 */
import { parseArgs } from 'node:util';
import { signModel, type SignModelOptions } from '@modelseal/core/sign';
import {
  verifyModelSignature,
  type VerifyModelSignatureOptions,
} from '@modelseal/core/verify';
import { EXIT, UsageError, exitCodeFor, type ExitCode } from './exit-codes.js';
import { processIo, type Io } from './io.js';
import { errorLine } from './output/errors.js';
import { VERSION } from './main.js';

const FLAGS = {
  method: { type: 'string' },
  'model-path': { type: 'string' },
  'output-bundle': { type: 'string' },
  bundle: { type: 'string' },
  'private-key': { type: 'string' },
  'signing-cert': { type: 'string' },
  'cert-chain': { type: 'string', multiple: true },
  'public-key': { type: 'string' },
  'ignore-paths': { type: 'string', multiple: true },
  'ignore-unsigned-files': { type: 'boolean' },
  'identity-token': { type: 'string' },
  identity: { type: 'string' },
  'identity-provider': { type: 'string' },
  'use-staging': { type: 'boolean' },
  'hash-algorithm': { type: 'string' },
  'shard-size': { type: 'string' },
  'max-workers': { type: 'string' },
  'chunk-size': { type: 'string' },
  operation: { type: 'string' },
  repeat: { type: 'string' },
} as const;

type Values = ReturnType<
  typeof parseArgs<{ options: typeof FLAGS; strict: false }>
>['values'];

function need(values: Values, name: keyof typeof FLAGS): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '')
    throw new UsageError(`--${name} is required`);
  return value;
}

function strings(values: Values, name: keyof typeof FLAGS): string[] {
  const value = values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter(
    (v): v is string => typeof v === 'string',
  );
}

function hashing(values: Values): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const hash = values['hash-algorithm'];
  if (typeof hash === 'string') out.hashAlgorithm = hash;
  const shardSize = values['shard-size'];
  if (typeof shardSize === 'string') {
    out.serialization = 'shards';
    out.shardSize = Number(shardSize);
  }
  const workers = values['max-workers'];
  if (typeof workers === 'string') out.concurrency = Number(workers);
  return out;
}

function method(values: Values): 'key' | 'certificate' | 'sigstore' {
  const m = need(values, 'method');
  if (m !== 'key' && m !== 'certificate' && m !== 'sigstore')
    throw new UsageError(`unknown --method ${m}`);
  return m;
}

function signOptions(values: Values): SignModelOptions {
  const m = method(values);
  const common = {
    modelPath: need(values, 'model-path'),
    signaturePath: need(values, 'output-bundle'),
    ignorePaths: strings(values, 'ignore-paths'),
    // The harness signs twice into the same path to check determinism.
    force: true,
    ...hashing(values),
  };
  switch (m) {
    case 'key':
      return { ...common, method: m, privateKey: need(values, 'private-key') };
    case 'certificate':
      return {
        ...common,
        method: m,
        privateKey: need(values, 'private-key'),
        signingCertificate: need(values, 'signing-cert'),
        certificateChain: strings(values, 'cert-chain'),
      };
    case 'sigstore':
      return {
        ...common,
        method: m,
        identityToken: need(values, 'identity-token'),
        // Never ambient credentials: the harness passes the token it wants used.
        useAmbientCredentials: false,
        ...(values['use-staging'] === true ? { staging: true } : {}),
      };
  }
}

function verifyOptions(values: Values): VerifyModelSignatureOptions {
  const m = method(values);
  const common = {
    modelPath: need(values, 'model-path'),
    bundlePath: need(values, 'bundle'),
    ignorePaths: strings(values, 'ignore-paths'),
    ignoreUnsignedFiles: values['ignore-unsigned-files'] === true,
  };
  switch (m) {
    case 'key':
      return { ...common, method: m, publicKey: need(values, 'public-key') };
    case 'certificate':
      return {
        ...common,
        method: m,
        trustAnchors: strings(values, 'cert-chain'),
      };
    case 'sigstore':
      return {
        ...common,
        method: m,
        identity: need(values, 'identity'),
        issuer: need(values, 'identity-provider'),
        ...(values['use-staging'] === true ? { staging: true } : {}),
      };
  }
}

async function benchmark(values: Values, io: Io): Promise<void> {
  const operation = need(values, 'operation');
  const repeat = Number(values.repeat ?? '1');
  if (!Number.isSafeInteger(repeat) || repeat < 1)
    throw new UsageError('--repeat must be a positive integer');
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const started = performance.now();
    if (operation === 'sign') await signModel(signOptions(values));
    else if (operation === 'verify')
      await verifyModelSignature(verifyOptions(values));
    else throw new UsageError(`unknown --operation ${operation}`);
    times.push(Math.round((performance.now() - started) * 10) / 10);
  }
  io.out(JSON.stringify({ times_ms: times }));
}

/** Runs the adapter with `argv` (without node and the script). */
export async function adapterMain(
  argv: readonly string[],
  io: Io = processIo(),
): Promise<ExitCode> {
  const [command, ...rest] = argv;
  try {
    // Unknown flags are ignored, as the protocol allows.
    const { values } = parseArgs({
      args: [...rest],
      options: FLAGS,
      strict: false,
      allowPositionals: true,
    });
    switch (command) {
      case 'capabilities':
        io.out(
          JSON.stringify({
            flags: [
              '--hash-algorithm',
              '--shard-size',
              '--max-workers',
              '--ignore-unsigned-files',
              '--use-staging',
            ],
            hash_algorithms: ['sha256', 'blake2b', 'blake3'],
            benchmark_model: true,
            client_version: `modelseal ${VERSION}`,
          }),
        );
        return EXIT.OK;
      case 'sign-model':
        await signModel(signOptions(values));
        return EXIT.OK;
      case 'verify-model':
        await verifyModelSignature(verifyOptions(values));
        return EXIT.OK;
      case 'benchmark-model':
        await benchmark(values, io);
        return EXIT.OK;
      default:
        throw new UsageError(
          `unknown command ${JSON.stringify(command ?? '')}: use sign-model, verify-model, capabilities or benchmark-model`,
        );
    }
  } catch (error) {
    io.err(errorLine(error));
    return exitCodeFor(error);
  }
}
