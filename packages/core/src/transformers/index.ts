// SPDX-License-Identifier: Apache-2.0
/**
 * transformers.js (`@huggingface/transformers`) loads a model only through
 * verified reads: every file it asks for under a registered model id is
 * served from a {@link VerifiedModel}, which re-hashes the bytes it delivers
 * against the signed digests. Anything else (a file the manifest does not
 * list, another model, any URL) is refused: no fallback to the disk, the
 * network or transformers.js's own caches.
 *
 * This module never imports transformers.js: the caller passes its `env`.
 */
import type { VerifiedModel } from '../load/verified-model.js';

/**
 * The settings of transformers.js's `env` this adapter sets (a structural
 * subset of its `TransformersEnvironment`, so any 3.x/4.x `env` fits).
 */
export interface TransformersEnvLike {
  allowRemoteModels: boolean;
  allowLocalModels: boolean;
  localModelPath: string;
  remoteHost: string;
  remotePathTemplate: string;
  useFS: boolean;
  useBrowserCache: boolean;
  useFSCache: boolean;
  useCustomCache: boolean;
  customCache: unknown;
  experimental_useCrossOriginStorage?: boolean;
  fetch: (input: string | URL, init?: unknown) => Promise<unknown>;
}

/** One refused request, as recorded by {@link VerifiedCache.refused}. */
export interface RefusedRequest {
  /** The key or URL transformers.js asked for. */
  request: string;
  /** Why it was refused. */
  reason: string;
}

/** Options of {@link useVerifiedModel}. */
export interface UseVerifiedModelOptions {
  /**
   * The id the application passes to `pipeline()` / `from_pretrained()` for
   * this model, e.g. `acme/tiny-embedder`. Files are looked up under it.
   */
  modelId: string;
}

/** What {@link useVerifiedModel} returns. */
export interface VerifiedModelHandle {
  /** The cache installed as `env.customCache` (shared by every model registered on that `env`). */
  readonly cache: VerifiedCache;
  /**
   * Removes this model; when it was the last one, puts back the `env`
   * settings that were there before the first {@link useVerifiedModel}.
   */
  restore(): void;
}

const REFUSED_STATUS = 404;

function checkModelId(modelId: string): void {
  if (
    typeof modelId !== 'string' ||
    modelId === '' ||
    modelId.startsWith('/') ||
    modelId.endsWith('/') ||
    modelId.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new TypeError(
      `modelId ${JSON.stringify(modelId)}: expected a relative id such as "org/name"`,
    );
  }
}

/** transformers.js joins paths by trimming one slash at each seam. */
function joinSeam(a: string, b: string): string {
  return `${a.replace(/\/$/, '')}/${b.replace(/^\//, '')}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A transformers.js custom cache (`env.customCache`) that answers `match()`
 * with the verified bytes of signed files, and nothing else.
 *
 * A response body is read lazily, through {@link VerifiedModel.createReadStream}:
 * reading it fails with `MANIFEST_MISMATCH` when the file changed after
 * verification, and its consumer (`Response.arrayBuffer()`) never resolves on
 * altered bytes. `put()` stores nothing.
 */
export class VerifiedCache {
  private readonly models = new Map<string, VerifiedModel>();
  private readonly signed = new Map<string, Set<string>>();
  private env: TransformersEnvLike | undefined;
  /** Files served, as `modelId/file`, in order (each `match` that returned a response). */
  readonly served: string[] = [];
  /** Requests refused (unknown model, file not signed, any fetch). */
  readonly refused: RefusedRequest[] = [];

  /** @internal The `env` whose settings decide how keys look. */
  bind(env: TransformersEnvLike): void {
    this.env = env;
  }

  /** Serves `model`'s signed files under `modelId`. */
  add(modelId: string, model: VerifiedModel): void {
    checkModelId(modelId);
    const files = model.files();
    if (files.length === 1 && files[0] === '.')
      throw new TypeError(
        `${model.path}: a single-file model; transformers.js loads a model folder (config.json, onnx/model.onnx, ...)`,
      );
    if (this.models.has(modelId) && this.models.get(modelId) !== model)
      throw new TypeError(`modelId ${modelId}: already registered`);
    this.models.set(modelId, model);
    this.signed.set(modelId, new Set(files));
  }

  /** Stops serving `modelId`. Returns how many models remain. */
  remove(modelId: string): number {
    this.models.delete(modelId);
    this.signed.delete(modelId);
    return this.models.size;
  }

  /** The model ids served. */
  modelIds(): string[] {
    return [...this.models.keys()];
  }

  /**
   * Maps a cache key of transformers.js (local path, `modelId/file`, or hub
   * URL) to a registered model and one of its file names.
   */
  resolve(request: string): { modelId: string; file: string } | undefined {
    const env = this.env;
    // Longest id first, so that `a/b` does not capture a request for `a/b/c`.
    const ids = [...this.models.keys()].sort((a, b) => b.length - a.length);
    for (const modelId of ids) {
      const prefixes = [`${modelId}/`];
      if (env) prefixes.push(`${joinSeam(env.localModelPath, modelId)}/`);
      for (const prefix of prefixes) {
        if (request.startsWith(prefix))
          return { modelId, file: request.slice(prefix.length) };
      }
      if (env) {
        // remoteHost + remotePathTemplate ({model}, {revision}) + file; any revision.
        const [before, after] = joinSeam(
          env.remoteHost,
          env.remotePathTemplate.replaceAll('{model}', modelId),
        ).split('{revision}');
        const pattern =
          after === undefined
            ? new RegExp(`^${escapeRegExp(joinSeam(before!, ''))}`)
            : new RegExp(
                `^${escapeRegExp(before!)}[^/]+${escapeRegExp(joinSeam(after, ''))}`,
              );
        const m = pattern.exec(request);
        if (m) return { modelId, file: request.slice(m[0].length) };
      }
    }
    return undefined;
  }

  /**
   * The verified file for `request`, as a `Response` whose body is read and
   * re-hashed when consumed; `undefined` for anything not signed.
   */
  // eslint-disable-next-line @typescript-eslint/require-await -- the Cache API's match is async
  async match(request: string | URL): Promise<Response | undefined> {
    const key = String(request);
    const found = this.resolve(key);
    if (found === undefined) {
      this.refused.push({ request: key, reason: 'not a registered model' });
      return undefined;
    }
    const { modelId, file } = found;
    if (!this.signed.get(modelId)!.has(file)) {
      this.refused.push({
        request: key,
        reason: `${file}: not a signed file of ${modelId}`,
      });
      return undefined;
    }
    const model = this.models.get(modelId)!;
    this.served.push(`${modelId}/${file}`);
    return new Response(lazyVerifiedBody(model, file), {
      status: 200,
      headers: { 'content-type': 'application/octet-stream' },
    });
  }

  /** Stores nothing: only signed bytes are ever served. */
  async put(): Promise<void> {}

  /** Deletes nothing. */
  // eslint-disable-next-line @typescript-eslint/require-await -- the Cache API's delete is async
  async delete(): Promise<boolean> {
    return false;
  }

  /**
   * The `env.fetch` installed by {@link useVerifiedModel}: refuses every
   * request with a 404 response, so transformers.js reads neither disk
   * (with `useFS` off, local paths go through fetch) nor network. A file the
   * model does not sign therefore reads as absent: a required one fails the
   * load, an optional one (e.g. `generation_config.json`) is skipped.
   */
  // eslint-disable-next-line @typescript-eslint/require-await -- fetch is async
  readonly fetch = async (input: string | URL): Promise<Response> => {
    const key = String(input);
    const found = this.resolve(key);
    const reason =
      found === undefined
        ? 'not a file of a verified model'
        : `${found.file}: not a signed file of ${found.modelId}`;
    this.refused.push({ request: key, reason });
    return new Response(null, {
      status: REFUSED_STATUS,
      statusText: `modelseal: refused: ${reason}`,
    });
  };
}

/**
 * A body that opens the file only when read (transformers.js may ask for a
 * response it does not consume), hashing as it goes. Its last chunk is held
 * back until the digest matched, so a full read of altered bytes fails with
 * `MANIFEST_MISMATCH` instead of ending.
 */
function lazyVerifiedBody(
  model: VerifiedModel,
  file: string,
): ReadableStream<Uint8Array> {
  let chunks: AsyncIterator<Buffer> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        chunks ??= (model.createReadStream(file) as AsyncIterable<Buffer>)[
          Symbol.asyncIterator
        ]();
        const next: IteratorResult<Buffer, unknown> = await chunks.next();
        if (next.done === true) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        await chunks?.return?.();
      },
    },
    // Nothing is read before a consumer asks.
    { highWaterMark: 0 },
  );
}

/** Creates a {@link VerifiedCache} serving the given models (id → verified model). */
export function createVerifiedCache(
  models: Record<string, VerifiedModel> = {},
): VerifiedCache {
  const cache = new VerifiedCache();
  for (const [modelId, model] of Object.entries(models))
    cache.add(modelId, model);
  return cache;
}

type Saved = Pick<
  TransformersEnvLike,
  | 'allowRemoteModels'
  | 'allowLocalModels'
  | 'useFS'
  | 'useBrowserCache'
  | 'useFSCache'
  | 'useCustomCache'
  | 'customCache'
  | 'fetch'
> & { experimental_useCrossOriginStorage: boolean | undefined };

const installed = new WeakMap<object, { cache: VerifiedCache; saved: Saved }>();

/**
 * Makes transformers.js load `modelId` only from `model`'s verified bytes, and
 * nothing else from anywhere. Sets on `env`:
 *
 * - `useCustomCache = true`, `customCache` = a {@link VerifiedCache};
 * - `allowRemoteModels = false`, `useFS = false` (local paths go through
 *   `env.fetch` instead of the file system), `allowLocalModels = true`;
 * - `useFSCache`, `useBrowserCache`, `experimental_useCrossOriginStorage` off;
 * - `fetch` = a function that refuses every request.
 *
 * Call it again with the same `env` to add more models. Until
 * {@link VerifiedModelHandle.restore}, any other model (or remote URL)
 * transformers.js is asked for fails to load.
 *
 * @example
 * import { env, pipeline } from '@huggingface/transformers';
 * const model = await verifyModel({ method: 'key', modelPath: dir, bundlePath: sig, publicKey });
 * useVerifiedModel(env, model, { modelId: 'acme/tiny' });
 * const extract = await pipeline('feature-extraction', 'acme/tiny', { dtype: 'fp32' });
 */
export function useVerifiedModel(
  env: TransformersEnvLike,
  model: VerifiedModel,
  options: UseVerifiedModelOptions,
): VerifiedModelHandle {
  let entry = installed.get(env);
  if (entry === undefined || env.customCache !== entry.cache) {
    const cache = new VerifiedCache();
    cache.bind(env);
    entry = {
      cache,
      saved: {
        allowRemoteModels: env.allowRemoteModels,
        allowLocalModels: env.allowLocalModels,
        useFS: env.useFS,
        useBrowserCache: env.useBrowserCache,
        useFSCache: env.useFSCache,
        useCustomCache: env.useCustomCache,
        customCache: env.customCache,
        experimental_useCrossOriginStorage:
          env.experimental_useCrossOriginStorage,
        fetch: env.fetch,
      },
    };
    installed.set(env, entry);
  }
  const { cache, saved } = entry;
  cache.add(options.modelId, model);
  Object.assign(env, {
    useCustomCache: true,
    customCache: cache,
    allowRemoteModels: false,
    allowLocalModels: true,
    useFS: false,
    useFSCache: false,
    useBrowserCache: false,
    fetch: cache.fetch,
  });
  if ('experimental_useCrossOriginStorage' in env)
    env.experimental_useCrossOriginStorage = false;
  let restored = false;
  return {
    cache,
    restore(): void {
      if (restored) return;
      restored = true;
      if (cache.remove(options.modelId) > 0) return;
      if (installed.get(env)?.cache === cache) installed.delete(env);
      const { experimental_useCrossOriginStorage, ...rest } = saved;
      Object.assign(env, rest);
      if (experimental_useCrossOriginStorage !== undefined)
        env.experimental_useCrossOriginStorage =
          experimental_useCrossOriginStorage;
    },
  };
}
