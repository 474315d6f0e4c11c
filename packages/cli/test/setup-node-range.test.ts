// SPDX-License-Identifier: Apache-2.0
// scripts/setup.sh installs Node 24 when the local Node is outside
// package.json's engines range, not only below 22: `--check-node VERSION`
// runs the same check as the setup and installs nothing.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SETUP = join(REPO, 'scripts', 'setup.sh');

function check(version: string): { code: number | null; out: string } {
  const r = spawnSync('bash', [SETUP, '--check-node', version], {
    encoding: 'utf8',
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('scripts/setup.sh --check-node: the engines range', () => {
  const engines = (
    JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      engines: { node: string };
    }
  ).engines.node;

  it('the range read is package.json engines.node', () => {
    expect(engines).toBe('^22.22.2 || ^24.15.0 || >=26.0.0');
    expect(check('24.15.0').out).toContain(`(${engines})`);
  });

  it.each([
    ['20.19.0', false],
    ['22.0.0', false],
    ['22.22.1', false],
    ['22.22.2', true],
    ['22.30.0', true],
    ['23.11.1', false],
    ['24.0.0', false],
    ['24.14.9', false],
    ['24.15.0', true],
    ['v24.16.1', true],
    ['25.9.0', false],
    ['26.0.0', true],
    ['27.3.0', true],
  ])('node %s in range: %s', (version, fits) => {
    const r = check(version);
    expect(r.out).toMatch(
      fits ? /is in the engines range/ : /is outside the engines range/,
    );
    expect(r.code).toBe(fits ? 0 : 1);
  });
});
