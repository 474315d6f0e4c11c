// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/**
 * Rules reported by the archive scanners (tar, gzip, zip; `docs/scanner-rules.md`,
 * "Other formats"). Zip structure anomalies use the shared `ZIP_*` rules of the
 * zip reader, and limits the shared `SCAN_INCOMPLETE`.
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
      'A gzip stream, zip entry or sparse tar member expands past the `maxExpandedBytes` limit at a ratio above 100:1; a high SCAN_INCOMPLETE says what was not scanned. Inflation never goes past the limit.',
    remediation: 'Do not extract the archive.',
  },
  {
    id: 'ARCHIVE_MALFORMED',
    severity: 'high',
    title: 'malformed archive',
    description:
      'A tar or gzip stream that the reference reader refuses: a truncated header, a member whose declared size runs past the end of the data, an extended header cut short, a bad deflate stream. What is present is scanned; a loader that tolerates the damage can see bytes that were not. (Unreadable tar headers in the middle of an archive are SCAN_INCOMPLETE, and the walk resumes at the next valid header.)',
    remediation: 'Obtain the archive again; do not extract it.',
  },
  {
    id: 'ARCHIVE_TAR_DIFFERENTIAL',
    severity: 'high',
    title: 'tar readers disagree on the members',
    description:
      'Some tar readers see a member that others do not: a member header after the end-of-archive marker (read by `tar --ignore-zeros` and readers that skip zero blocks, not by tarfile or GNU tar), or a valid header where readers that skip the data a directory, link or device entry declares (tar-stream, node-tar), or that ignore a pax size, look for the next member; or a member whose pax `GNU.sparse.size` or `GNU.sparse.realsize` (with no sparse map) makes tarfile read more or fewer bytes than the header size, over the headers after it (the member is scanned as far as either reads). The hidden member is scanned, but an archive shaped this way is built to show a scanner one thing and a loader another.',
    remediation: 'Do not extract the archive; rebuild it with one tar tool.',
  },
  {
    id: 'ARCHIVE_TAR_QUIRK',
    severity: 'low',
    title: 'unusual tar header',
    description:
      "A tar header that model archives do not need: an unknown type flag (extracted, and scanned, as a regular file; low); a directory or hard link that declares a data size, which tarfile and GNU tar ignore (info; CPython's own testtar.tar has one); a symlink or device that declares one (low: tarfile ignores the size, GNU tar skips that many bytes, and a member only one of them sees is reported as ARCHIVE_TAR_DIFFERENTIAL).",
    remediation: 'None needed when the archive comes from a trusted tool.',
  },
]);
