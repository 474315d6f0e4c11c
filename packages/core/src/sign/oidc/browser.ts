// SPDX-License-Identifier: Apache-2.0
/**
 * Launching the system browser for the sign-in URL, only when a desktop
 * session is likely. The URL is always printed as well; nothing depends on a
 * browser opening.
 */
import { spawn } from 'node:child_process';

/**
 * Whether a graphical browser can probably be launched: not in CI, not over
 * SSH without X forwarding; macOS and Windows desktops, or a Linux/BSD session
 * with `DISPLAY` or `WAYLAND_DISPLAY`.
 *
 * @param env - the environment to judge (the caller passes `process.env`).
 */
export function desktopAvailable(
  env: Readonly<Record<string, string | undefined>>,
  platform: NodeJS.Platform,
): boolean {
  const set = (name: string): boolean => (env[name] ?? '') !== '';
  if (set('CI')) return false;
  const graphical = set('DISPLAY') || set('WAYLAND_DISPLAY');
  if ((set('SSH_CONNECTION') || set('SSH_TTY')) && !graphical) return false;
  if (platform === 'darwin' || platform === 'win32') return true;
  return graphical;
}

/**
 * Ask the desktop to open `url` in the default browser (fire and forget).
 * Only http(s) URLs are handed over; the command gets the URL as one argument,
 * never through a shell.
 *
 * @returns whether a launcher was started (not whether a browser appeared).
 */
export function launchBrowser(url: string, platform: NodeJS.Platform): boolean {
  const { protocol } = new URL(url);
  if (protocol !== 'https:' && protocol !== 'http:') return false;
  const [command, args] =
    platform === 'darwin'
      ? ['open', [url]]
      : platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(command, args, { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    return true;
    /* v8 ignore next 3 -- spawn reports a missing launcher through 'error' */
  } catch {
    return false;
  }
}
