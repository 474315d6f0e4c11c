// SPDX-License-Identifier: Apache-2.0
import { basename, normalize, resolve } from 'node:path';
import { modelSealError } from '../errors.js';

/**
 * The model name written as `subject[0].name` (oms-format.md §7): the last
 * component of the lexically normalised path, or of the absolute path when
 * that is empty, `.` or `..`. A symlinked directory keeps the link's name.
 *
 * @throws INVALID_PATH when no name can be derived (the file-system root)
 */
export function modelNameOf(modelPath: string): string {
  let name = basename(normalize(modelPath).replace(/\/+$/, ''));
  if (name === '' || name === '.' || name === '..')
    name = basename(resolve(modelPath));
  if (name === '') {
    throw modelSealError(
      'INVALID_PATH',
      `${modelPath}: cannot derive a model name from this path`,
    );
  }
  return name;
}
