// SPDX-License-Identifier: Apache-2.0
/**
 * Entry-name checks shared by the tar and zip scanners (`threats.md` §7),
 * including a virtual file system of the links seen so far, so that symlink
 * chains (`d/up → ..`, `d/up/up2 → ..`, `d/up/up2/x`) and writes through
 * symlinks are judged the way an extractor that follows earlier links sees them.
 */
import type { ScanContext, Severity } from '../types.js';
import { reportIncomplete } from '../incomplete.js';

/** Longest entry name examined; longer names are findings. */
export const MAX_ENTRY_NAME = 4096;
/** Link hops followed while resolving one path (Linux's own limit is 40). */
const MAX_LINK_HOPS = 40;

/** Splits an entry name into components, treating `\` as a separator as Windows extractors do. */
export function splitEntryName(name: string): string[] {
  return name.replace(/\\/g, '/').split('/');
}

/** Whether a name is absolute on any platform: `/x`, `\x`, `C:x`, `\\server\share`. */
export function isAbsoluteEntryName(name: string): boolean {
  const slashed = name.replace(/\\/g, '/');
  return slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed);
}

/** Lexical normal form of a relative name, or undefined when `..` climbs above the root. */
export function normaliseEntryName(name: string): string | undefined {
  return normaliseParts(splitEntryName(name));
}

function normaliseParts(segments: readonly string[]): string | undefined {
  const parts: string[] = [];
  for (const segment of segments) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else {
      parts.push(segment);
    }
  }
  return parts.join('/');
}

interface LinkTarget {
  absolute: boolean;
  parts: string[];
}

type Resolution =
  | { ok: true; parts: string[]; viaLink: boolean }
  | { ok: false; reason: 'escape' | 'loop'; viaLink: boolean };

/** Resolution without links: `.` and `..` only. */
function lexicalResolution(components: readonly string[]): Resolution {
  const out: string[] = [];
  for (const c of components) {
    if (c === '' || c === '.') continue;
    if (c !== '..') out.push(c);
    else if (out.length === 0)
      return { ok: false, reason: 'escape', viaLink: false };
    else out.pop();
  }
  return { ok: true, parts: out, viaLink: false };
}

/** A path component in the tree of link paths. */
interface LinkNode {
  children: Map<string, LinkNode>;
  link?: LinkTarget;
}

/**
 * The links of one archive, by resolved path, in a tree of path components:
 * resolving a name costs one map lookup per component, whatever the number
 * of links (a lookup by joined prefix made long names quadratic).
 */
export class LinkTracker {
  private readonly root: LinkNode = { children: new Map() };

  /** Resolves components from the root through the links seen so far. */
  resolve(components: readonly string[], followLast: boolean): Resolution {
    if (this.root.children.size === 0) return lexicalResolution(components);
    const result: string[] = [];
    // The tree node of each prefix of `result` (undefined: no link below).
    const nodes: (LinkNode | undefined)[] = [];
    let queue: readonly string[] = components;
    let next = 0;
    let hops = 0;
    let viaLink = false;
    while (next < queue.length) {
      const segment = queue[next++] as string;
      if (segment === '' || segment === '.') continue;
      if (segment === '..') {
        if (result.length === 0)
          return { ok: false, reason: 'escape', viaLink };
        result.pop();
        nodes.pop();
        continue;
      }
      const parent = nodes.length === 0 ? this.root : nodes[nodes.length - 1];
      const node = parent?.children.get(segment);
      result.push(segment);
      nodes.push(node);
      const link = node?.link;
      if (link !== undefined && (next < queue.length || followLast)) {
        viaLink = true;
        if (++hops > MAX_LINK_HOPS)
          return { ok: false, reason: 'loop', viaLink };
        if (link.absolute) return { ok: false, reason: 'escape', viaLink };
        result.pop();
        nodes.pop();
        queue = [...link.parts, ...queue.slice(next)];
        next = 0;
      }
    }
    return { ok: true, parts: result, viaLink };
  }

  /** Records a symlink; returns how its target resolves from the link's directory. */
  addSymlink(name: string, target: string): Resolution {
    const parts = splitEntryName(name).filter((p) => p !== '' && p !== '.');
    const parent = this.resolve(parts.slice(0, -1), true);
    const absolute = isAbsoluteEntryName(target);
    const targetParts = splitEntryName(target);
    if (!parent.ok) return parent;
    let node = this.root;
    for (const part of [...parent.parts, parts[parts.length - 1] ?? '']) {
      let child = node.children.get(part);
      if (child === undefined) {
        child = { children: new Map() };
        node.children.set(part, child);
      }
      node = child;
    }
    node.link = { absolute, parts: targetParts };
    if (absolute) return { ok: false, reason: 'escape', viaLink: false };
    return this.resolve([...parent.parts, ...targetParts], true);
  }
}

/**
 * Checks one entry name and reports absolute names, `..` traversal, names too
 * long, and (for a regular entry) writes that pass through an earlier symlink
 * to a place outside the root. Returns the normalised name, or undefined when
 * the entry escapes.
 */
export function checkEntryName(
  ctx: ScanContext,
  name: string,
  links: LinkTracker,
  offset: number | undefined,
): string | undefined {
  const at = offset === undefined ? {} : { offset };
  const reject = (
    ruleId: string,
    severity: Severity,
    message: string,
    evidence: Record<string, unknown> = { name },
  ): undefined => {
    ctx.report({ ruleId, severity, ...at, message, evidence });
    return undefined;
  };
  if (name.length > MAX_ENTRY_NAME) {
    // Not examined: resolving a name of millions of components through the
    // links seen so far costs more than any real archive needs.
    reportIncomplete(ctx, {
      limit: 'maxEntryNameLength',
      value: MAX_ENTRY_NAME,
      ...at,
      message: `entry name of ${name.length} characters, its path checks`,
      evidence: { name: name.slice(0, 200) },
    });
    return undefined;
  }
  if (name.includes('\0'))
    return reject(
      'ARCHIVE_PATH_TRAVERSAL',
      'high',
      'entry name contains a nul byte',
    );
  if (isAbsoluteEntryName(name))
    return reject(
      'ARCHIVE_ABSOLUTE_PATH',
      'high',
      `entry ${name} has an absolute path`,
    );
  const segments = splitEntryName(name);
  const normal = normaliseParts(segments);
  if (normal === undefined)
    return reject(
      'ARCHIVE_PATH_TRAVERSAL',
      'high',
      `entry ${name} escapes the extraction root`,
    );
  const resolved = links.resolve(segments, false);
  if (!resolved.ok)
    return reject(
      'ARCHIVE_SYMLINK_ESCAPE',
      'critical',
      `entry ${name} is written through a symlink ${resolved.reason === 'loop' ? 'loop' : 'outside the extraction root'}`,
      { name, reason: resolved.reason },
    );
  return normal;
}

/** A link whose target stays inside the extraction root: low, for the record. */
function reportContainedLink(
  ctx: ScanContext,
  kind: 'symlink' | 'hard link',
  name: string,
  target: string,
  at: { offset?: number },
): void {
  ctx.report({
    ruleId: 'ARCHIVE_LINK',
    severity: 'low',
    ...at,
    message: `${kind} ${name} points to ${target} inside the archive`,
    evidence: { name, target },
  });
}

/** Reports a symlink entry: escaping targets (directly or through a chain) are critical, contained ones low. */
export function checkSymlink(
  ctx: ScanContext,
  name: string,
  target: string,
  links: LinkTracker,
  offset: number | undefined,
): void {
  const at = offset === undefined ? {} : { offset };
  const result = links.addSymlink(name, target);
  if (!result.ok) {
    ctx.report({
      ruleId: 'ARCHIVE_SYMLINK_ESCAPE',
      severity: 'critical',
      ...at,
      message: `symlink ${name} points ${result.reason === 'loop' ? 'into a link loop' : `outside the extraction root (${target})`}${result.viaLink ? ' through earlier links' : ''}`,
      evidence: { name, target, chain: result.viaLink },
    });
    return;
  }
  reportContainedLink(ctx, 'symlink', name, target, at);
}

/** Reports a hard link entry (tar): its target is relative to the archive root. */
export function checkHardlink(
  ctx: ScanContext,
  name: string,
  target: string,
  links: LinkTracker,
  offset: number | undefined,
): void {
  const at = offset === undefined ? {} : { offset };
  const resolved = isAbsoluteEntryName(target)
    ? undefined
    : links.resolve(splitEntryName(target), true);
  if (resolved === undefined || !resolved.ok) {
    ctx.report({
      ruleId: 'ARCHIVE_HARDLINK_ESCAPE',
      severity: 'critical',
      ...at,
      message: `hard link ${name} points outside the extraction root (${target})`,
      evidence: { name, target },
    });
    return;
  }
  reportContainedLink(ctx, 'hard link', name, target, at);
}
