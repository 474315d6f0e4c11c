// SPDX-License-Identifier: Apache-2.0
// The legacy Keras `.h5` config search (keras-scanner.ts, h5-config-search.ts).
// Keras 3 loads a Lambda layer from a legacy `.h5` (its safe mode is not
// applied on that path). The search looked for objects that start with
// `{"class_name"`, 16 of them at most, in the first 16 MiB of a file with
// the HDF5 signature at byte 0; each case below was a bypass of that
// (written as `it.fails`, now passing): it now reads the whole file for
// `"class_name"` keys, takes the outermost object around each, has a byte
// budget instead of a count, and finds the signature after a user block.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../../src/scan/engine.js';
import { bufferSource } from '../../../src/scan/source.js';
import { severityAtLeast } from '../../../src/scan/types.js';
import { LAMBDA_CONFIG } from '../helpers/keras-lambda.js';
import { ruleIds } from '../helpers/findings.js';

const HDF5 = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** `value` with `class_name` moved after the other keys of every object. */
function classNameLast(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(classNameLast);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries)
    if (k !== 'class_name') out[k] = classNameLast(v);
  for (const [k, v] of entries) if (k === 'class_name') out[k] = v;
  return out;
}

async function highs(bytes: Buffer): Promise<string[]> {
  return ruleIds(await scanSource(bufferSource(bytes), 'model.h5'));
}

describe('legacy Keras .h5: the heuristic config search', () => {
  it('finds a Lambda layer in a config that starts with class_name', async () => {
    const config = Buffer.from(JSON.stringify(LAMBDA_CONFIG));
    const file = Buffer.concat([HDF5, Buffer.alloc(1024), config]);
    expect(await highs(file)).toContain('KERAS_LAMBDA');
  });

  it('finds a Lambda layer in a config whose first key is not class_name', async () => {
    // json.loads does not care about key order: class_name last in every
    // object.
    const config = Buffer.from(JSON.stringify(classNameLast(LAMBDA_CONFIG)));
    const file = Buffer.concat([HDF5, Buffer.alloc(1024), config]);
    expect(await highs(file)).not.toEqual([]);
  });

  it('finds a Lambda layer in a config after 16 benign decoy objects', async () => {
    // The search stops after 16 objects that start with class_name.
    const decoy = Buffer.from(
      JSON.stringify({ class_name: 'Dense', config: { units: 1 } }),
    );
    const config = Buffer.from(JSON.stringify(LAMBDA_CONFIG));
    const file = Buffer.concat([
      HDF5,
      ...new Array<Buffer>(16).fill(decoy),
      config,
    ]);
    expect(await highs(file)).not.toEqual([]);
  });

  it('reads a benign config whose first key lies far inside it as one object', async () => {
    // JSON-legal bytes before the object, and 10 KiB before its first
    // class_name key: the walk back must reach the object's own start.
    const config = {
      config: {
        name: 'x'.repeat(10_000),
        layers: [{ config: { units: 1 }, class_name: 'Dense' }],
      },
      class_name: 'Sequential',
    };
    const file = Buffer.concat([
      HDF5,
      Buffer.alloc(8192, 0x20),
      Buffer.from(JSON.stringify(config)),
    ]);
    const r = await scanSource(bufferSource(file), 'model.h5');
    expect(r.formats).toContain('keras-h5');
    expect(
      r.findings.filter((f) => severityAtLeast(f.severity, 'medium')),
    ).toEqual([]);
  });

  it('finds a Lambda layer in an HDF5 file behind a user block', async () => {
    // h5py finds the superblock at 512, 1024, 2048, … bytes.
    const config = Buffer.from(JSON.stringify(LAMBDA_CONFIG));
    const file = Buffer.concat([Buffer.alloc(2048, 0x20), HDF5, config]);
    expect(await highs(file)).toContain('KERAS_LAMBDA');
  });

  it('finds a Lambda layer in a config stored past the first 16 MiB', async () => {
    // h5py stores a str attribute in a global heap collection, which can
    // lie after the weights.
    const config = Buffer.from(JSON.stringify(LAMBDA_CONFIG));
    const file = Buffer.concat([HDF5, Buffer.alloc(17 * 1024 * 1024), config]);
    expect(await highs(file)).not.toEqual([]);
  });
});
