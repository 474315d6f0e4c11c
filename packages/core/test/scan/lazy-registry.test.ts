// SPDX-License-Identifier: Apache-2.0
// Issue 11 item 1: the registry loads each scanner's module when it is first
// consulted. The order and the ids are those of the scanners themselves; a
// scanner module that cannot be loaded fails closed (a high
// SCAN_INTERNAL_ERROR naming it), never a silent pass.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import {
  FALLBACK_SCANNERS,
  SCANNERS,
  lazyScanner,
} from '../../src/scan/registry.js';
import { bufferSource } from '../../src/scan/source.js';
import { PICKLE_SCANNER } from '../../src/scan/pickle/scanner.js';
import {
  COMPRESSION_SCANNERS,
  UNSUPPORTED_COMPRESSION_SCANNER,
} from '../../src/scan/compression/wrappers.js';

describe('lazy scanner registry', () => {
  it('keeps the detection order', () => {
    expect(SCANNERS.map((s) => s.id)).toEqual([
      'safetensors',
      'gguf',
      'tflite',
      'pytorch-zip',
      'numpy-npz',
      'numpy-npy',
      'pytorch-legacy',
      'pickle',
      'pytorch-legacy-tar',
      // The wrappers in their module's own order (a wrapper added there and
      // not in the registry would never be consulted).
      ...COMPRESSION_SCANNERS.map((s) => s.id),
      UNSUPPORTED_COMPRESSION_SCANNER.id,
      'onnx',
      'tf-savedmodel',
      'keras-metadata',
      'keras-h5',
      'skops',
      'keras',
      'zip',
      'tar',
      'hf-remote-code',
      'nemo-config',
    ]);
    expect(FALLBACK_SCANNERS.map((s) => s.id)).toEqual([
      'keras-h5-userblock',
      'pickle-text',
    ]);
  });

  it('every entry loads the scanner of its id', async () => {
    // detect() loads the module; an entry whose module gave another scanner
    // would accept everything (fail closed), so a random head must be refused
    // by all but the few weak detectors.
    const head = Buffer.from('not any model format at all\n');
    const accepted: string[] = [];
    for (const s of [...SCANNERS, ...FALLBACK_SCANNERS])
      if (await s.detect(head, bufferSource(head))) accepted.push(s.id);
    expect(accepted).not.toContain('safetensors');
    expect(accepted.length).toBeLessThanOrEqual(2);
  });

  it('a scanner module that cannot be loaded is a high finding', async () => {
    const broken = lazyScanner('broken', () =>
      Promise.reject(new Error('module gone')),
    );
    const result = await scanSource(bufferSource(Buffer.from('x')), 'w.bin', {
      scanners: [broken],
    });
    expect(result.findings).toContainEqual(
      expect.objectContaining({
        ruleId: 'SCAN_INTERNAL_ERROR',
        severity: 'high',
      }),
    );
  });

  it('a failed load is not blamed on the file and is tried again', async () => {
    let calls = 0;
    const flaky = lazyScanner('flaky', () => {
      calls += 1;
      // The first load fails as an out-of-descriptors error would.
      if (calls === 1)
        return Promise.reject(
          Object.assign(new Error('EMFILE: too many open files'), {
            code: 'EMFILE',
          }),
        );
      return Promise.resolve({ ...PICKLE_SCANNER, id: 'flaky' });
    });
    const first = await scanSource(bufferSource(Buffer.from('x')), 'w.bin', {
      scanners: [flaky],
    });
    expect(first.error).toBeUndefined();
    expect(first.findings).toContainEqual(
      expect.objectContaining({
        ruleId: 'SCAN_INTERNAL_ERROR',
        severity: 'high',
      }),
    );
    // The next file loads the scanner again, and it works.
    expect(
      await flaky.detect(Buffer.from('x'), bufferSource(Buffer.from('x'))),
    ).toBe(false);
    expect(calls).toBe(2);
  });

  it('a module that gives another scanner than its id is refused the same way', async () => {
    const wrong = lazyScanner('safetensors', () =>
      Promise.resolve(PICKLE_SCANNER),
    );
    const result = await scanSource(bufferSource(Buffer.from('x')), 'w.bin', {
      scanners: [wrong],
    });
    expect(result.findings.map((f) => f.ruleId)).toContain(
      'SCAN_INTERNAL_ERROR',
    );
  });
});
