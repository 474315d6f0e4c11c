// SPDX-License-Identifier: Apache-2.0
import { isModelSealError, ModelSealError } from '@modelseal/core/errors';
import { resolve as resolvePath } from 'node:path';
import { safeText } from '@modelseal/core/output';
import { InterruptedError, UsageError } from '../exit-codes.js';

/** The JSON object printed on stdout for a failure with `--json`. */
export function errorJSON(error: unknown): Record<string, unknown> {
  const body: Record<string, unknown> = {
    code: isModelSealError(error)
      ? error.code
      : error instanceof UsageError
        ? 'USAGE'
        : error instanceof InterruptedError
          ? 'INTERRUPTED'
          : 'INTERNAL_ERROR',
    message: error instanceof Error ? error.message : String(error),
  };
  if (isModelSealError(error) && error.details !== undefined)
    body.details = error.details;
  const causes = causeChain(error);
  if (causes.length > 0) body.causes = causes;
  return { schemaVersion: 1, ok: false, error: body };
}

/** A JWT (three base64url parts) in a foreign message is never printed. */
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const MAX_CAUSE_CHARS = 300;
const MAX_CAUSES = 4;

/**
 * The messages (and codes, such as `ECONNREFUSED` or a Sigstore error code)
 * of the errors under `error.cause`, outermost first, leaving out each one
 * whose text the message above it already holds. Sigstore, TLS and HTTP
 * failures are wrapped by the library; this is where their reason shows.
 */
export function causeChain(error: unknown): string[] {
  const out: string[] = [];
  let above = error instanceof Error ? error.message : '';
  let cause: unknown = error instanceof Error ? error.cause : undefined;
  const seen = new Set<unknown>([error]);
  while (cause !== undefined && !seen.has(cause) && out.length < MAX_CAUSES) {
    seen.add(cause);
    const message =
      cause instanceof Error
        ? cause.message
        : typeof cause === 'string'
          ? cause
          : '';
    const fields: { code?: unknown; syscall?: unknown; path?: unknown } =
      typeof cause === 'object' && cause !== null ? cause : {};
    const code = fields.code;
    // A file system error under ours: our message names the file and the reason already.
    const fsError =
      typeof fields.syscall === 'string' && typeof fields.path === 'string';
    // Node's "ENOENT: no such file or directory, open 'x'": the reason, without the path again.
    const line = message.split('\n')[0] ?? '';
    const first = (fsError ? (line.split(', ')[0] ?? line) : line)
      .replace(JWT, '[token]')
      .slice(0, MAX_CAUSE_CHARS);
    const codeText =
      typeof code === 'string' || typeof code === 'number' ? String(code) : '';
    const reason = first.replace(/^[A-Z]+: /, '');
    const redundant =
      first === '' ||
      above.includes(first) ||
      (fsError &&
        (above.includes(reason) ||
          (codeText !== '' && above.includes(codeText))));
    if (!redundant && fsError) out.push(first);
    else if (!redundant)
      out.push(
        codeText !== '' && !first.includes(codeText)
          ? `${first} (${codeText})`
          : first,
      );
    else if (!fsError && codeText !== '' && !above.includes(codeText))
      out.push(codeText);
    above = `${above} ${message}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return out;
}

/**
 * One line for stderr: no stack trace, the code in brackets, then the
 * causes the library kept (a Sigstore failure's HTTP or network reason).
 * Messages name files, members, key hints and identities from artifacts and
 * bundles, so they go through safeText: always one line, no control sequence.
 */
export function errorLine(error: unknown): string {
  if (error instanceof InterruptedError) return 'modelseal: interrupted';
  if (error instanceof UsageError)
    return `modelseal: usage error: ${safeText(error.message)} (see --help)`;
  const causes = causeChain(error)
    .map((c) => `; cause: ${safeText(c)}`)
    .join('');
  if (isModelSealError(error))
    return `modelseal: error [${error.code}]: ${safeText(error.message)}${causes}`;
  const message = error instanceof Error ? error.message : String(error);
  return `modelseal: internal error: ${safeText(message.split('\n')[0] ?? '')}${causes}`;
}

/** Whether `message` holds `path` as a whole path, not inside a word or a longer path. */
function namesPath(message: string, path: string): boolean {
  for (
    let i = message.indexOf(path);
    i !== -1;
    i = message.indexOf(path, i + 1)
  ) {
    const before = message[i - 1] ?? ' ';
    const after = message[i + path.length] ?? ' ';
    if (/[\s"'(=]/.test(before) && /[\s"'):,/.]/.test(after)) return true;
  }
  return false;
}

/** The same error with another message (code, cause and details kept). */
function reworded(error: ModelSealError, message: string): ModelSealError {
  return new ModelSealError({
    code: error.code,
    message,
    ...(error.cause === undefined ? {} : { cause: error.cause }),
    ...(error.details === undefined ? {} : { details: error.details }),
  });
}

/**
 * A library message in the command line's words: the library names its
 * options (`force: true`, `identityToken`, the `pin` option, `rsaPadding`),
 * the CLI user needs the flags. Keyed by the code and `details.option`, which
 * the library sets on each such error; the message is rebuilt from `details`
 * where it can be. A message that already names a flag (`--`) is left as it
 * is, so the mapping can run twice.
 */
export function cliWording(error: unknown): unknown {
  if (!isModelSealError(error) || error.message.includes('--')) return error;
  const details = error.details ?? {};
  const option = details.option;
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' ? value : undefined;
  switch (error.code) {
    case 'FILE_EXISTS': {
      const path = text(details.path);
      if (option === 'force' && path !== undefined)
        return reworded(
          error,
          `${path} already exists: pass --force to overwrite it`,
        );
      break;
    }
    case 'PASSWORD_REQUIRED': {
      const token = text(details.token);
      if (option === 'pin' && token !== undefined)
        return reworded(
          error,
          `the PKCS#11 token "${token}" needs a PIN (pin-value or pin-source in the URI, --pin-env VAR, or run on a terminal to be asked for it)`,
        );
      break;
    }
    case 'OIDC_TOKEN_UNAVAILABLE':
      if (option === 'identityToken' && details.source === 'ambient')
        return reworded(
          error,
          'no ambient oidc token: on github actions grant `permissions: id-token: write`; elsewhere set SIGSTORE_ID_TOKEN, pass --identity-token TOKEN|FILE, or sign in with --oidc-flow browser|device',
        );
      if (option === 'identityToken' && details.source === 'none')
        return reworded(
          error,
          'no oidc identity token: pass --identity-token TOKEN|FILE, sign in with --oidc-flow browser|device, or leave out --no-use-ambient-credentials (in CI)',
        );
      break;
    case 'INVALID_OPTIONS':
      if (option === 'rsaPadding' && error.message.startsWith('rsaPadding '))
        return reworded(
          error,
          `--rsa-padding ${error.message.slice('rsaPadding '.length)}`,
        );
      break;
    case 'SYMLINK_NOT_ALLOWED':
      if (
        option === 'allowSymlinks' &&
        error.message.includes('(allowSymlinks: true to follow')
      )
        return reworded(
          error,
          error.message.replace(
            '(allowSymlinks: true to follow',
            '(--allow-symlinks to follow',
          ),
        );
      break;
    default:
      break;
  }
  return error;
}

/**
 * The flag that names a file, added to a library error about that file
 * (`details.path`) whose message names no flag: "cannot write
 * /out/model.sig: directory /out does not exist (--signature FILE)".
 */
export function withFlagHint(
  error: unknown,
  flags: ReadonlyMap<string, string>,
  byCode: Readonly<Record<string, string>> = {},
): unknown {
  error = cliWording(error);
  if (!isModelSealError(error) || error.message.includes('--')) return error;
  const path = (error.details as { path?: unknown } | undefined)?.path;
  // Without details.path: the longest of the files that the message names,
  // as a whole path (a model path `.` or `m` is not named by "e.g." or "email").
  const named = [...flags.keys()]
    .filter((file) => file !== '' && namesPath(error.message, file))
    .sort((a, b) => b.length - a.length)[0];
  const flag =
    byCode[error.code] ??
    (typeof path === 'string'
      ? (flags.get(path) ?? flags.get(resolvePath(path)))
      : undefined) ??
    (named === undefined ? undefined : flags.get(named));
  if (flag === undefined) return error;
  return new ModelSealError({
    code: error.code,
    message: `${error.message} (${flag})`,
    ...(error.cause === undefined ? {} : { cause: error.cause }),
    ...(error.details === undefined ? {} : { details: error.details }),
  });
}
