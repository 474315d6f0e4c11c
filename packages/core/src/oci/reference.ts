// SPDX-License-Identifier: Apache-2.0
/**
 * OCI image references: `host[:port]/repository[:tag][@sha256:hex]`
 * (docs/oci.md). The registry host is always explicit: there is no default
 * registry, so a reference can never silently mean Docker Hub.
 */
import { ModelSealError } from '../errors.js';

/** A parsed image reference. */
export interface ImageReference {
  /** `host` or `host:port` as written. */
  registry: string;
  /** Repository path, e.g. `models/llama`. */
  repository: string;
  tag: string | undefined;
  /** `sha256:<hex>` when the reference pins a digest. */
  digest: string | undefined;
}

const REPOSITORY =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

function invalid(reference: string, why: string): ModelSealError {
  return new ModelSealError({
    code: 'INVALID_OPTIONS',
    message: `invalid image reference ${JSON.stringify(reference)}: ${why}`,
    details: { reference },
  });
}

/**
 * Parses an image reference. A tag defaults to `latest` only when neither a
 * tag nor a digest is given.
 *
 * @throws ModelSealError `INVALID_OPTIONS`
 */
export function parseImageReference(reference: string): ImageReference {
  let rest = reference.replace(/^oci:\/\//, '');
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest))
      throw invalid(reference, 'the digest must be sha256:<64 lowercase hex>');
  }
  const slash = rest.indexOf('/');
  if (slash <= 0)
    throw invalid(reference, 'no registry host (host[:port]/repository)');
  const registry = rest.slice(0, slash);
  if (!(
    registry.includes('.') ||
    registry.includes(':') ||
    registry === 'localhost'
  ))
    throw invalid(
      reference,
      `${registry} is not a registry host (it needs a dot, a port or to be localhost)`,
    );
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag))
      throw invalid(reference, `bad tag ${JSON.stringify(tag)}`);
  }
  if (!REPOSITORY.test(path))
    throw invalid(reference, `bad repository ${JSON.stringify(path)}`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: path, tag, digest };
}

/** The reference written back (`host/repo:tag@digest`). */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** True for hosts that are spoken to over plain HTTP by default (loopback only). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[')
    ? registry.slice(1, registry.indexOf(']'))
    : registry.split(':')[0]!;
  return (
    host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
  );
}
