// SPDX-License-Identifier: Apache-2.0
/**
 * A small OCI distribution client over `fetch` (docs/oci.md): the few calls
 * signing and verifying need (manifests, blobs, referrers with the tag-schema
 * fallback), anonymous, basic or bearer-token authentication, and a count of
 * the bytes received so callers can show that no weights were pulled.
 */
import { createHash } from 'node:crypto';
import { ModelSealError } from '../errors.js';
import { isLoopbackRegistry, type ImageReference } from './reference.js';

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** How to reach a registry. */
export interface RegistryOptions {
  /** Speak HTTP instead of HTTPS. Default: true for loopback hosts only. */
  plainHttp?: boolean;
  /** Credentials for basic auth or the bearer-token service. */
  username?: string;
  password?: string;
  /** Largest manifest or index accepted, in bytes. Default 4 MiB. */
  maxManifestBytes?: number;
  /** Per-request timeout in milliseconds. Default 60000. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST =
  'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST =
  'application/vnd.docker.distribution.manifest.list.v2+json';
const MANIFEST_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];
const MANIFEST_ACCEPT = MANIFEST_TYPES.join(', ');

/** A manifest as fetched: its exact bytes and their digest. */
export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  json: Record<string, unknown>;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function registryError(
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): ModelSealError {
  return new ModelSealError({
    code: 'REGISTRY_ERROR',
    message,
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Registry content that is not what it claims to be (`DIGEST_MISMATCH`). */
export function malformed(message: string): ModelSealError {
  return new ModelSealError({ code: 'DIGEST_MISMATCH', message });
}

/** Parses registry JSON that must be an object. */
function parseObject(bytes: Buffer, what: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ModelSealError({
      code: 'DIGEST_MISMATCH',
      message: `${what} is not JSON`,
      cause: error,
    });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw malformed(`${what} is not a JSON object`);
  return json as Record<string, unknown>;
}

/** The descriptors of an index's `manifests` (absent: none). */
export function indexEntries(
  json: Record<string, unknown>,
  what: string,
): Descriptor[] {
  const list = json['manifests'] ?? [];
  if (
    !Array.isArray(list) ||
    list.some((d) => typeof d !== 'object' || d === null || Array.isArray(d))
  )
    throw malformed(`${what}: manifests is not a list of descriptors`);
  return list as Descriptor[];
}

export function digestMismatch(
  what: string,
  expected: string,
  actual: string,
): ModelSealError {
  return new ModelSealError({
    code: 'DIGEST_MISMATCH',
    message: `${what}: the registry served content with digest ${actual}, not ${expected}`,
    details: { expected, actual },
  });
}

function parseChallenge(header: string): {
  scheme: string;
  params: Record<string, string>;
} {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_]+)="([^"]*)"/g;
  for (let m = re.exec(header); m !== null; m = re.exec(header))
    params[m[1]!.toLowerCase()] = m[2]!;
  return { scheme, params };
}

/** A client for one repository of one registry. */
export class RegistryClient {
  /** Response body bytes received from the registry (manifests, blobs, tokens). */
  bytesReceived = 0;
  /** Request body bytes sent. */
  bytesSent = 0;
  /** HTTP requests made. */
  requests = 0;
  readonly base: string;
  private authorization: string | undefined;
  private readonly maxManifestBytes: number;

  constructor(
    readonly ref: ImageReference,
    private readonly options: RegistryOptions = {},
  ) {
    const http = options.plainHttp ?? isLoopbackRegistry(ref.registry);
    this.base = `${http ? 'http' : 'https'}://${ref.registry}/v2/${ref.repository}`;
    this.maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
  }

  private async authenticate(
    challenge: string | null,
    push: boolean,
  ): Promise<boolean> {
    const { username, password } = this.options;
    if (challenge === null) return false;
    const { scheme, params } = parseChallenge(challenge);
    const basic =
      username === undefined
        ? undefined
        : `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
    if (scheme === 'basic') {
      if (basic === undefined || this.authorization === basic) return false;
      this.authorization = basic;
      return true;
    }
    if (scheme !== 'bearer' || params['realm'] === undefined) return false;
    const url = new URL(params['realm']);
    if (params['service'] !== undefined)
      url.searchParams.set('service', params['service']);
    url.searchParams.set(
      'scope',
      params['scope'] ??
        `repository:${this.ref.repository}:${push ? 'pull,push' : 'pull'}`,
    );
    const res = await this.fetchRaw(url.toString(), {
      headers: basic === undefined ? {} : { authorization: basic },
    });
    const body = await this.readCapped(res, 1024 * 1024, 'token response');
    if (!res.ok)
      throw registryError(
        `the registry's token service refused: HTTP ${res.status}`,
        { status: res.status },
      );
    const json = JSON.parse(body.toString('utf8')) as {
      token?: string;
      access_token?: string;
    };
    const token = json.token ?? json.access_token;
    if (typeof token !== 'string')
      throw registryError('the token service returned no token');
    const next = `Bearer ${token}`;
    if (next === this.authorization) return false;
    this.authorization = next;
    return true;
  }

  private async fetchRaw(
    url: string,
    init: RequestInit & { duplex?: 'half' },
  ): Promise<Response> {
    this.requests += 1;
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 60_000);
    const signal =
      this.options.signal === undefined
        ? timeout
        : AbortSignal.any([timeout, this.options.signal]);
    try {
      return await fetch(url, { ...init, signal, redirect: 'follow' });
    } catch (error) {
      if (this.options.signal?.aborted === true)
        throw new ModelSealError({
          code: 'ABORTED',
          message: 'aborted',
          cause: error,
        });
      throw registryError(
        `cannot reach ${url}: ${(error as Error).message}`,
        { url },
        error,
      );
    }
  }

  /** One request, authenticating once on a 401 (bodies that are streams cannot be replayed: authenticate before). */
  async request(
    method: string,
    url: string,
    init: {
      headers?: Record<string, string>;
      body?: RequestInit['body'];
      push?: boolean;
      replayable?: boolean;
    } = {},
  ): Promise<Response> {
    const make = (): Promise<Response> =>
      this.fetchRaw(url, {
        method,
        headers: {
          ...(init.headers ?? {}),
          ...(this.authorization === undefined
            ? {}
            : { authorization: this.authorization }),
        },
        ...(init.body === undefined ? {} : { body: init.body }),
        ...(init.body instanceof ReadableStream
          ? { duplex: 'half' as const }
          : {}),
      });
    let res = await make();
    if (res.status === 401 && init.replayable !== false) {
      await res.body?.cancel();
      if (
        await this.authenticate(
          res.headers.get('www-authenticate'),
          init.push === true,
        )
      )
        res = await make();
      else
        throw registryError(
          `${method} ${url}: HTTP 401 (no usable credentials)`,
          { status: 401 },
        );
    }
    return res;
  }

  /** Reads a response body with a size cap, counting the bytes. */
  async readCapped(res: Response, cap: number, what: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    if (res.body === null) return Buffer.alloc(0);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength;
      this.bytesReceived += chunk.byteLength;
      if (total > cap) {
        await res.body.cancel().catch(() => undefined);
        throw new ModelSealError({
          code: 'DIGEST_MISMATCH',
          message: `${what} is larger than ${cap} bytes`,
          details: { limit: cap },
        });
      }
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }

  private async fail(res: Response, what: string): Promise<never> {
    const text = (
      await this.readCapped(res, 64 * 1024, what).catch(() => Buffer.alloc(0))
    )
      .toString('utf8')
      .slice(0, 300);
    throw registryError(
      `${what}: HTTP ${res.status}${text === '' ? '' : ` ${text}`}`,
      { status: res.status },
    );
  }

  /** GETs a manifest by tag or digest; checks the bytes against a requested digest. Undefined on 404. */
  async getManifest(reference: string): Promise<FetchedManifest | undefined> {
    const res = await this.request(
      'GET',
      `${this.base}/manifests/${reference}`,
      { headers: { accept: MANIFEST_ACCEPT } },
    );
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) return this.fail(res, `GET manifest ${reference}`);
    const bytes = await this.readCapped(
      res,
      this.maxManifestBytes,
      `manifest ${reference}`,
    );
    const digest = sha256Digest(bytes);
    if (reference.startsWith('sha256:') && digest !== reference)
      throw digestMismatch(`manifest ${reference}`, reference, digest);
    const json = parseObject(bytes, `manifest ${reference}`);
    const header = (res.headers.get('content-type') ?? '')
      .split(';')[0]!
      .trim();
    const field = json['mediaType'];
    if (field !== undefined && typeof field !== 'string')
      throw malformed(`manifest ${reference}: mediaType is not a string`);
    // One document, one type: a client that goes by the header must not see
    // an index where the verifier saw an image manifest (CVE-2021-41190).
    if (
      field !== undefined &&
      MANIFEST_TYPES.includes(header) &&
      header !== field
    )
      throw malformed(
        `manifest ${reference}: the registry serves it as ${header} but its mediaType is ${field}`,
      );
    const mediaType = field ?? (header === '' ? OCI_MANIFEST : header);
    return { bytes, digest, mediaType, json };
  }

  /** PUTs a manifest under a tag or its digest; returns its digest. */
  async putManifest(
    reference: string,
    bytes: Buffer,
    mediaType: string,
  ): Promise<string> {
    const res = await this.request(
      'PUT',
      `${this.base}/manifests/${reference}`,
      {
        headers: { 'content-type': mediaType },
        body: bytes,
        push: true,
      },
    );
    if (res.status !== 201) return this.fail(res, `PUT manifest ${reference}`);
    this.bytesSent += bytes.length;
    await res.body?.cancel();
    return sha256Digest(bytes);
  }

  /** True when the registry has the blob. */
  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `${this.base}/blobs/${digest}`);
    await res.body?.cancel();
    if (res.status === 404) return false;
    if (!res.ok) return this.fail(res, `HEAD blob ${digest}`);
    return true;
  }

  /**
   * Uploads a blob (POST, then one PUT with the digest). `body` may be a
   * stream of `size` bytes whose digest the caller computed.
   */
  async pushBlob(
    body: Buffer | ReadableStream<Uint8Array>,
    digest: string,
    size: number,
  ): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const start = await this.request('POST', `${this.base}/blobs/uploads/`, {
      push: true,
      headers: { 'content-length': '0' },
    });
    if (start.status !== 202) return this.fail(start, 'POST blob upload');
    await start.body?.cancel();
    const location = start.headers.get('location');
    if (location === null)
      throw registryError('the registry started an upload without a Location');
    const url = new URL(location, this.base);
    url.searchParams.set('digest', digest);
    const res = await this.request('PUT', url.toString(), {
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(size),
      },
      body: body as RequestInit['body'],
      push: true,
      replayable: Buffer.isBuffer(body),
    });
    if (res.status !== 201) return this.fail(res, `PUT blob ${digest}`);
    await res.body?.cancel();
    this.bytesSent += size;
  }

  /** GETs a small blob (a bundle), checked against its digest. */
  async getBlob(digest: string, cap: number): Promise<Buffer> {
    const res = await this.request('GET', `${this.base}/blobs/${digest}`);
    if (!res.ok) return this.fail(res, `GET blob ${digest}`);
    const bytes = await this.readCapped(res, cap, `blob ${digest}`);
    const actual = sha256Digest(bytes);
    if (actual !== digest)
      throw digestMismatch(`blob ${digest}`, digest, actual);
    return bytes;
  }

  /** GETs a blob as a stream (pulling layers); the caller checks the digest. Counted as it is read. */
  async blobStream(digest: string): Promise<AsyncIterable<Uint8Array>> {
    const res = await this.request('GET', `${this.base}/blobs/${digest}`);
    if (!res.ok || res.body === null)
      return this.fail(res, `GET blob ${digest}`);
    const body = res.body as unknown as AsyncIterable<Uint8Array>;
    const count = (n: number): void => {
      this.bytesReceived += n;
    };
    return (async function* counted() {
      for await (const chunk of body) {
        count(chunk.byteLength);
        yield chunk;
      }
    })();
  }

  /**
   * Referrers of a manifest digest with the given artifact type: the
   * referrers API, or the tag schema (`sha256-<hex>` index) where the
   * registry has no such API (distribution 2.x).
   */
  async referrers(
    digest: string,
    artifactType: string,
  ): Promise<{ descriptors: Descriptor[]; via: 'api' | 'tag' }> {
    const url = `${this.base}/referrers/${digest}?artifactType=${encodeURIComponent(artifactType)}`;
    const res = await this.request('GET', url, {
      headers: { accept: OCI_INDEX },
    });
    if (
      res.ok &&
      (res.headers.get('content-type') ?? '').startsWith(OCI_INDEX)
    ) {
      const bytes = await this.readCapped(
        res,
        this.maxManifestBytes,
        'referrers index',
      );
      const index = parseObject(bytes, `referrers of ${digest}`);
      return {
        descriptors: indexEntries(index, `referrers of ${digest}`).filter(
          (d) => d.artifactType === artifactType,
        ),
        via: 'api',
      };
    }
    // 404 (no API, distribution 2.x) or another content type: the tag schema.
    await res.body?.cancel();
    const tag = referrersTag(digest);
    const index = await this.getManifest(tag);
    const manifests =
      index === undefined ? [] : indexEntries(index.json, `index ${tag}`);
    return {
      descriptors: manifests.filter((d) => d.artifactType === artifactType),
      via: 'tag',
    };
  }
}

/** The tag-schema tag that lists the referrers of a digest. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}
