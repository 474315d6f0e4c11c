// SPDX-License-Identifier: Apache-2.0
// Fixtures shared by the embedded-zip and container red-team tests.
import { pack } from 'tar-stream';

/** A Keras 3 `config.json` whose model has a Lambda layer (KERAS_LAMBDA, high). */
export const LAMBDA_CONFIG = {
  module: 'keras',
  class_name: 'Sequential',
  config: {
    name: 's',
    layers: [
      {
        module: 'keras.layers',
        class_name: 'Lambda',
        config: {
          name: 'x',
          function: { class_name: '__lambda__', config: { code: 'AA==' } },
        },
      },
    ],
  },
};

/** The members of a `.keras` zip with that config. */
export const KERAS_LAMBDA_MEMBERS = [
  { name: 'metadata.json', data: Buffer.from('{"keras_version":"3.11.3"}') },
  { name: 'config.json', data: Buffer.from(JSON.stringify(LAMBDA_CONFIG)) },
];

/** A ustar archive of `files`, in order (tar-stream). */
export async function tarOf(
  files: { name: string; data: Buffer }[],
): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((res) => p.on('end', () => res()));
  for (const f of files) p.entry({ name: f.name }, f.data);
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
