// SPDX-License-Identifier: Apache-2.0
// SARIF 2.1.0 for GitHub code scanning: rules, levels, security-severity,
// relative URIs with container members, stable fingerprints.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanPaths } from '../../src/scan/engine.js';
import {
  findingFingerprint,
  findingUri,
  sarifLevel,
  toSarif,
} from '../../src/scan/sarif.js';
import { REPO_ROOT } from '../helpers/vectors.js';

const root = join(REPO_ROOT, 'test-vectors', 'pickle');

describe('toSarif', () => {
  it('maps severities to levels and scores', () => {
    expect(
      ['critical', 'high', 'medium', 'low', 'info'].map((s) =>
        sarifLevel(s as never),
      ),
    ).toEqual(['error', 'error', 'warning', 'note', 'note']);
  });

  it('writes a SARIF 2.1.0 log GitHub accepts', async () => {
    const report = await scanPaths(
      [
        join(root, 'malicious', 'torch-zip-payload.pt'),
        join(root, 'malicious', 'bz2-wrapped.bin'),
        join(root, 'missing.pt'),
      ],
      { root },
    );
    const log = toSarif(report, { toolVersion: '0.1.0' });
    expect(log.version).toBe('2.1.0');
    expect(log.$schema).toContain('sarif-2.1.0');
    const run = log.runs[0] as {
      tool: {
        driver: {
          name: string;
          version: string;
          rules: Record<string, unknown>[];
        };
      };
      results: Record<string, unknown>[];
      invocations: { toolExecutionNotifications: unknown[] }[];
    };
    expect(run.tool.driver.name).toBe('modelseal');
    expect(run.tool.driver.version).toBe('0.1.0');
    const ruleIds = run.tool.driver.rules.map((r) => r.id);
    expect(ruleIds).toEqual(['PICKLE_DANGEROUS_GLOBAL', 'SCAN_INCOMPLETE']);
    expect(run.tool.driver.rules[0]).toMatchObject({
      id: 'PICKLE_DANGEROUS_GLOBAL',
      shortDescription: { text: expect.any(String) },
      fullDescription: { text: expect.any(String) },
      help: { text: expect.any(String) },
      defaultConfiguration: { level: 'error' },
      properties: { 'security-severity': '9.5' },
    });
    const critical = run.results.find(
      (r) => r.ruleId === 'PICKLE_DANGEROUS_GLOBAL',
    )!;
    expect(critical).toMatchObject({
      level: 'error',
      ruleIndex: 0,
      message: { text: expect.stringContaining('os.system') },
      locations: [
        {
          physicalLocation: {
            artifactLocation: {
              uri: 'malicious/torch-zip-payload.pt!/archive/data.pkl',
              uriBaseId: '%SRCROOT%',
            },
            region: { startLine: 1 },
          },
        },
      ],
      partialFingerprints: {
        primaryLocationLineHash: expect.stringMatching(/^[0-9a-f]{32}$/),
      },
      properties: {
        severity: 'critical',
        offset: expect.any(Number),
        member: ['archive/data.pkl'],
      },
    });
    expect(run.results.find((r) => r.ruleId === 'SCAN_INCOMPLETE')?.level).toBe(
      'error',
    );
    expect(run.invocations[0]?.toolExecutionNotifications).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(log))).toEqual(log);
  });

  it('fingerprints are stable and distinguish rule, path, member and offset', () => {
    const f = {
      ruleId: 'R',
      severity: 'high' as const,
      file: 'a.pt',
      member: ['x'],
      offset: 3,
      message: 'm',
    };
    expect(findingFingerprint(f)).toBe(
      findingFingerprint({ ...f, message: 'other text' }),
    );
    expect(
      new Set(
        [
          f,
          { ...f, ruleId: 'S' },
          { ...f, file: 'b.pt' },
          { ...f, member: ['y'] },
          { ...f, offset: 4 },
        ].map(findingFingerprint),
      ).size,
    ).toBe(5);
    expect(
      findingUri({
        file: 'dir/my model.tar',
        member: ['w/model.pt', 'archive/data.pkl'],
      }),
    ).toBe('dir/my%20model.tar!/w/model.pt!/archive/data.pkl');
  });
});
