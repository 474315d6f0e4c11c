// SPDX-License-Identifier: Apache-2.0
// A real SoftHSM2 token for the PKCS#11 tests: a fresh token directory and
// configuration, a token initialised with softhsm2-util, and key pairs
// generated inside the token through the pkcs11js binding.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Pkcs11Js from 'pkcs11js';

const MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

function which(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The SoftHSM2 module, or why the PKCS#11 tests cannot run here. */
export function softhsm(): { module: string } | { skip: string } {
  if (!which('softhsm2-util'))
    return {
      skip: 'softhsm2-util is not installed (Debian package softhsm2; scripts/setup.sh installs it when run as root)',
    };
  const module = MODULE_CANDIDATES.find((p) => existsSync(p));
  if (module === undefined)
    return {
      skip: `libsofthsm2.so not found in ${MODULE_CANDIDATES.join(', ')}`,
    };
  try {
    createRequire(import.meta.url)('pkcs11js');
  } catch (error) {
    return {
      skip: `the pkcs11js binding did not load (${(error as Error).message.split('\n')[0]}); pnpm must build it (onlyBuiltDependencies)`,
    };
  }
  return { module };
}

export const SO_PIN = '87654321';
export const USER_PIN = '123456';

export interface Token {
  module: string;
  /** SOFTHSM2_CONF for this token directory: set in the environment of whatever loads the module. */
  conf: string;
  label: string;
  dir: string;
  uri(object: string, query?: string): string;
  cleanup(): void;
}

/** A fresh SoftHSM2 token in its own directory; sets process.env.SOFTHSM2_CONF. */
export function initToken(module: string, label = 'modelseal-test'): Token {
  const dir = mkdtempSync(join(tmpdir(), 'modelseal-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  process.env.SOFTHSM2_CONF = conf;
  execFileSync(
    'softhsm2-util',
    [
      '--init-token',
      '--free',
      '--label',
      label,
      '--so-pin',
      SO_PIN,
      '--pin',
      USER_PIN,
    ],
    { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe' },
  );
  return {
    module,
    conf,
    label,
    dir,
    uri: (object, query) =>
      `pkcs11:token=${encodeURIComponent(label)};object=${encodeURIComponent(object)}?module-path=${module}${query === undefined ? '' : `&${query}`}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const CURVES: Record<string, string> = {
  'P-256': '06082a8648ce3d030107',
  'P-384': '06052b81040022',
};

/** Generates a key pair inside the token with C_GenerateKeyPair (label and CKA_ID shared by both halves). */
export function generateKeyPair(
  token: Token,
  kind: 'P-256' | 'P-384' | 'RSA-2048' | 'RSA-3072',
  label: string,
  id: Buffer,
): void {
  const binding = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Js;
  const p = new binding.PKCS11();
  p.load(token.module);
  p.C_Initialize();
  try {
    const slot = p
      .C_GetSlotList(true)
      .find((s) => p.C_GetTokenInfo(s).label.trimEnd() === token.label);
    if (slot === undefined) throw new Error(`token ${token.label} not found`);
    const session = p.C_OpenSession(
      slot,
      binding.CKF_SERIAL_SESSION | binding.CKF_RW_SESSION,
    );
    p.C_Login(session, binding.CKU_USER, USER_PIN);
    const common = [
      { type: binding.CKA_TOKEN, value: true },
      { type: binding.CKA_LABEL, value: label },
      { type: binding.CKA_ID, value: id },
    ];
    const isEc = kind.startsWith('P-');
    const publicTemplate = [
      ...common,
      { type: binding.CKA_VERIFY, value: true },
      ...(isEc
        ? [
            {
              type: binding.CKA_EC_PARAMS,
              value: Buffer.from(CURVES[kind]!, 'hex'),
            },
          ]
        : [
            { type: binding.CKA_MODULUS_BITS, value: Number(kind.slice(4)) },
            {
              type: binding.CKA_PUBLIC_EXPONENT,
              value: Buffer.from([1, 0, 1]),
            },
          ]),
    ];
    const privateTemplate = [
      ...common,
      { type: binding.CKA_SIGN, value: true },
      { type: binding.CKA_PRIVATE, value: true },
      { type: binding.CKA_SENSITIVE, value: true },
      { type: binding.CKA_EXTRACTABLE, value: false },
    ];
    p.C_GenerateKeyPair(
      session,
      {
        mechanism: isEc
          ? binding.CKM_EC_KEY_PAIR_GEN
          : binding.CKM_RSA_PKCS_KEY_PAIR_GEN,
      },
      publicTemplate,
      privateTemplate,
    );
    p.C_Logout(session);
    p.C_CloseSession(session);
  } finally {
    p.C_Finalize();
    p.close();
  }
}
