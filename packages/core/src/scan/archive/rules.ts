// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/**
 * Rules reported by the archive scanners (tar, gzip, zip; `docs/scanner-rules.md`,
 * "Other formats"). Zip structure anomalies use the shared `ZIP_*` rules of the
 * zip reader, and limits the shared `SCAN_LIMIT_EXCEEDED`.
 */
export const ARCHIVE_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'ARCHIVE_PATH_TRAVERSAL',
    severity: 'high',
    title: 'entry escapes the extraction root',
    description:
      'An entry name climbs out with `..` (also with `\\` separators) or contains a nul byte; extracting it writes outside the target directory.',
    remediation:
      'Do not extract the archive; if you must, use an extractor that refuses such names (Python `tarfile` filter="data").',
  },
  {
    id: 'ARCHIVE_ABSOLUTE_PATH',
    severity: 'high',
    title: 'entry with an absolute path',
    description:
      'An entry name starts with `/`, `\\`, a drive letter or a UNC prefix.',
    remediation:
      'Do not extract the archive with a tool that honours absolute names.',
  },
  {
    id: 'ARCHIVE_SYMLINK_ESCAPE',
    severity: 'critical',
    title: 'symlink leads outside the extraction root',
    description:
      'A symlink points outside the root, directly or through a chain of earlier links that each look contained, or a later entry is written through such a link (node-tar CVE-2021-32803 family, CPython CVE-2025-4517 family). Loading a model through it reads or overwrites arbitrary files.',
    remediation: 'Do not extract or load the archive.',
  },
  {
    id: 'ARCHIVE_HARDLINK_ESCAPE',
    severity: 'critical',
    title: 'hard link to a file outside the extraction root',
    description:
      'A tar hard link names a target outside the archive root; extraction links an arbitrary host file into the model directory.',
    remediation: 'Do not extract the archive.',
  },
  {
    id: 'ARCHIVE_LINK',
    severity: 'low',
    title: 'link inside the archive',
    description:
      'A symlink or hard link whose target stays inside the archive; model archives rarely need one.',
    remediation: 'Prefer archives of plain files.',
  },
  {
    id: 'ARCHIVE_SPECIAL_FILE',
    severity: 'medium',
    title: 'device or FIFO entry',
    description:
      'A character device, block device or FIFO entry; extracting it as root creates device nodes.',
    remediation:
      'Do not extract the archive as root; model archives never need special files.',
  },
  {
    id: 'ARCHIVE_DUPLICATE_ENTRY',
    severity: 'high',
    title: 'duplicate tar entry name',
    description:
      'Two tar entries share a name; extraction keeps the last, readers that stop at the first match see the other, so a scanner and a loader can see different files. Every copy is scanned. (Zip duplicates are ZIP_DUPLICATE_ENTRY.)',
    remediation: 'Rebuild the archive with unique names.',
  },
  {
    id: 'ARCHIVE_DECOMPRESSION_BOMB',
    severity: 'high',
    title: 'decompression bomb',
    description:
      'A gzip stream or zip entry expands past the `maxExpandedBytes` limit at a ratio above 100:1 (below that ratio the limit is reported as SCAN_LIMIT_EXCEEDED); inflation never goes past the limit.',
    remediation: 'Do not extract the archive.',
  },
  {
    id: 'ARCHIVE_MALFORMED',
    severity: 'medium',
    title: 'malformed archive',
    description:
      'A tar or gzip stream is invalid or truncated (a header, a declared size that runs past the data, a bad deflate stream), or an entry name is too long; scanning stopped there.',
    remediation: 'Obtain the archive again; do not extract it.',
  },
]);
