// SPDX-License-Identifier: Apache-2.0
// `scan --format sarif`: artifact URIs relative to the repository root
// (--sarif-root DIR, default the current directory), so GitHub code scanning
// maps a scan of a subfolder to the repository's files.
import {
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';

const work = realpathSync(mkdtempSync(join(tmpdir(), 'modelseal-sarif-root-')));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// protocol 2: GLOBAL os.system, a string argument, REDUCE: what torch.load would run.
const EVIL = Buffer.concat([
  Buffer.from([0x80, 0x02]),
  Buffer.from(
    'cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.',
    'latin1',
  ),
]);

const repo = join(work, 'repo');
mkdirSync(join(repo, 'models', 'sub'), { recursive: true });
writeFileSync(join(repo, 'models', 'sub', 'evil model.pkl'), EVIL);
const outside = join(work, 'elsewhere');
mkdirSync(outside);
writeFileSync(join(outside, 'other.pkl'), EVIL);

interface Location {
  physicalLocation: { artifactLocation: { uri: string; uriBaseId?: string } };
}
interface Sarif {
  runs: {
    originalUriBaseIds: Record<string, { uri: string }>;
    results: { ruleId: string; locations: Location[] }[];
  }[];
}

function locations(
  stdout: string,
): Location['physicalLocation']['artifactLocation'][] {
  const sarif = JSON.parse(stdout) as Sarif;
  return sarif.runs[0]!.results.map(
    (r) => r.locations[0]!.physicalLocation.artifactLocation,
  );
}

describe('scan --sarif-root', () => {
  it('by default, a subfolder scan is relative to the current directory (the repository root)', async () => {
    const r = await runCli(
      ['scan', 'models/sub', '--format', 'sarif', '--fail-on', 'none'],
      { cwd: repo },
    );
    expect(r.code).toBe(0);
    const locs = locations(r.stdout);
    expect(locs.length).toBeGreaterThan(0);
    for (const loc of locs)
      expect(loc).toEqual({
        uri: 'models/sub/evil%20model.pkl',
        uriBaseId: '%SRCROOT%',
      });
    const sarif = JSON.parse(r.stdout) as Sarif;
    expect(sarif.runs[0]!.originalUriBaseIds['%SRCROOT%']!.uri).toBe(
      `${pathToFileURL(repo).href}/`,
    );
  });

  it('--sarif-root DIR from another directory gives the same URIs', async () => {
    const r = await runCli(
      [
        'scan',
        join(repo, 'models', 'sub'),
        '--format',
        'sarif',
        '--sarif-root',
        repo,
      ],
      { cwd: outside },
    );
    expect(r.code).toBe(1); // the default --fail-on high still gates
    expect(locations(r.stdout).map((l) => l.uri)).toContain(
      'models/sub/evil%20model.pkl',
    );
    expect(locations(r.stdout).every((l) => l.uriBaseId === '%SRCROOT%')).toBe(
      true,
    );
  });

  it('a file outside the root gets an absolute file: URI and no base', async () => {
    const r = await runCli(
      [
        'scan',
        'models',
        join(outside, 'other.pkl'),
        '--format',
        'sarif',
        '--fail-on',
        'none',
      ],
      { cwd: repo },
    );
    expect(r.code).toBe(0);
    const uris = locations(r.stdout);
    expect(uris).toContainEqual({
      uri: pathToFileURL(join(outside, 'other.pkl')).href,
    });
    expect(uris).toContainEqual({
      uri: 'models/sub/evil%20model.pkl',
      uriBaseId: '%SRCROOT%',
    });
  });

  it('--sarif-root without --format sarif is a usage error', async () => {
    const r = await runCli(['scan', 'models', '--sarif-root', repo], {
      cwd: repo,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--sarif-root needs --format sarif/);
  });
});
