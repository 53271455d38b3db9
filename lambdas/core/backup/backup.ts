import { createHash } from "node:crypto";
import type { MongoClient } from "mongodb";
import { connectMongo } from "../mongo/connect";
import { redactSecrets } from "../mongo/uri";
import type { BackupKind, BackupManifest, ManifestCollection } from "../archive/events";
import { encodeManifest } from "../archive/manifest";
import { encodeMetadata } from "../archive/metadata";
import { archiveName, collectionFileName, MANIFEST_ENTRY } from "../archive/names";
import type { ParallelGzipOptions } from "../archive/parallel-gzip";
import { clearAbandonedSpools } from "../targets/partial-files";
import type { BackupTarget } from "../targets/target";
import { TarWriter } from "./archive-writer";
import { CollectionReader, readWhole, type CollectionSummary } from "./collection-dump";
import { chooseDatabases, listSourceCollections, serverVersion, type SourceCollection } from "./source";
import { version as toolVersion } from "../../../package.json";

export interface BackupOptions {
  uri: string;
  target: BackupTarget;
  app?: string;
  kind?: BackupKind;
  /** Default: every database except admin, local and config. */
  databases?: string[];
  /** Collections up to this many bytes are read ahead in memory; larger ones stream (default 16 MiB). */
  memoryThreshold?: number;
  /** Collections read at once (default 2). */
  parallelCollections?: number;
  gzip?: ParallelGzipOptions;
  /** The archive's name without `.tar.gz` (default `<app>_backup_<start time>`); a scheduled run passes the
   * name of its scheduled time, so a retried run writes, and finds, the same name. */
  name?: string;
  now?: () => Date;
  onProgress?: (progress: BackupProgress) => void;
  /** Stops the backup (Ctrl-C): reads stop, the partial archive is removed, and the run fails with the reason. */
  signal?: AbortSignal;
}

export type BackupProgress =
  | { type: "collection-started"; namespace: string }
  | { type: "documents"; namespace: string; documents: number; bytes: number }
  | { type: "collection-done"; namespace: string; documents: number; bytes: number };

export interface BackupResult {
  archive: string;
  name: string;
  kind: BackupKind;
  sha256: string;
  /** Compressed size as stored. */
  bytes: number;
  /** Uncompressed BSON bytes. */
  dataBytes: number;
  collections: number;
  documents: number;
  durationMs: number;
  manifest: BackupManifest;
  /** Partial files and spool directories of interrupted runs that this run removed first. */
  removedAbandoned: string[];
}

/** Raised for any failed backup; by then the partial archive has been removed and no sidecar written. */
export class BackupError extends Error {
  override name = "BackupError";
}

export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const now = options.now ?? (() => new Date());
  const started = now();
  const startedMs = Date.now();
  const client = await connectMongo(options.uri, { appName: "atlas-ops/backup" });
  try {
    const removedAbandoned = [...(await options.target.clearAbandoned()), ...(await clearAbandonedSpools())];
    const databases = await chooseDatabases(client, options.databases);
    const sources: SourceCollection[] = [];
    for (const db of databases) sources.push(...(await listSourceCollections(client, db)));
    const version = await serverVersion(client);
    const manifest = await writeArchive(client, sources, {
      ...options,
      started,
      databases,
      serverVersion: version,
      finishedAt: now,
    });
    return {
      archive: manifest.url,
      name: manifest.manifest.name,
      kind: manifest.manifest.kind,
      sha256: manifest.manifest.archive!.sha256,
      bytes: manifest.manifest.archive!.bytes,
      dataBytes: manifest.manifest.totals.bytes,
      collections: manifest.manifest.totals.collections,
      documents: manifest.manifest.totals.documents,
      durationMs: Date.now() - startedMs,
      manifest: manifest.manifest,
      removedAbandoned,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new BackupError(`backup to ${options.target.url} failed: ${redactSecrets(message)}`, {
      cause: error,
    });
  } finally {
    await client.close().catch(() => undefined);
  }
}

interface WriteContext extends BackupOptions {
  started: Date;
  databases: string[];
  serverVersion: string;
  finishedAt: () => Date;
}

async function writeArchive(
  client: MongoClient,
  sources: SourceCollection[],
  context: WriteContext,
): Promise<{ url: string; manifest: BackupManifest }> {
  const kind = context.kind ?? "daily";
  const app = context.app ?? "opendev";
  const name = context.name ?? archiveName(app, context.started);
  context.signal?.throwIfAborted();
  const upload = await context.target.startArchive(kind, name);
  const tar = new TarWriter(upload, context.started, context.gzip);
  const readAhead = context.memoryThreshold ?? 16 * 1024 * 1024;
  const entries: ManifestCollection[] = [];
  let failure: unknown;
  const stop = (): void => {
    failure ??= context.signal!.reason;
    // Stops the readers at once: a read in progress fails, and the abort reason is what the run reports.
    void client.close(true).catch(() => undefined);
  };
  context.signal?.addEventListener("abort", stop, { once: true });

  try {
    await tar.directory(name);
    let next = 0;
    let writing = Promise.resolve();
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < sources.length) {
        const source = sources[next++]!;
        const namespace = `${source.db}.${source.collection}`;
        context.onProgress?.({ type: "collection-started", namespace });
        const reader = (): CollectionReader | undefined =>
          source.readFrom
            ? new CollectionReader(client, source.db, source.readFrom, namespace, {
                onDocuments: (documents, bytes) =>
                  context.onProgress?.({ type: "documents", namespace, documents, bytes }),
              })
            : undefined;
        // Small collections are read ahead while another one is being written; a larger one is streamed
        // into the archive at its turn, without a copy anywhere.
        const first = reader();
        const whole = first ? await readWhole(first, readAhead) : undefined;
        // Entries go into the tar one collection at a time, in the order the reads finish.
        const turn = writing.then(async () => {
          const base = `${name}/${source.db}/${collectionFileName(source.collection)}`;
          const metadata = encodeMetadata(source.metadata);
          await tar.directory(`${name}/${source.db}`);
          await tar.file(`${base}.metadata.json`, metadata, metadata.length);
          let summary: CollectionSummary | undefined;
          if (whole) {
            await tar.file(`${base}.bson`, whole.documents, whole.summary.bytes);
            summary = whole.summary;
          } else if (first) {
            const streamed = reader()!;
            const entry = await tar.openFile(`${base}.bson`);
            for await (const batch of streamed.batches()) await entry.write(batch);
            await entry.close();
            summary = streamed.summary();
          }
          entries.push({
            db: source.db,
            collection: source.collection,
            file: `${base}.bson`,
            metadataFile: `${base}.metadata.json`,
            documents: summary?.documents ?? 0,
            bytes: summary?.bytes ?? 0,
            sha256: summary?.sha256 ?? createHash("sha256").digest("hex"),
            metadataSha256: createHash("sha256").update(metadata).digest("hex"),
            documentsDigest: summary?.documentsDigest ?? "0".repeat(64),
          });
          context.onProgress?.({
            type: "collection-done",
            namespace,
            documents: summary?.documents ?? 0,
            bytes: summary?.bytes ?? 0,
          });
        });
        writing = turn.catch(() => undefined);
        await turn;
      }
    };
    const workers = Array.from({ length: Math.max(1, context.parallelCollections ?? 2) }, () =>
      worker().catch(async (error: unknown) => {
        if (failure === undefined) {
          failure = error;
          // Stops the other readers at once instead of letting them read collections nobody will store.
          await client.close(true).catch(() => undefined);
        }
      }),
    );
    await Promise.all(workers);
    if (failure !== undefined) throw failure;

    const manifest: BackupManifest = {
      formatVersion: 1,
      app,
      kind,
      name,
      startedAt: context.started.toISOString(),
      finishedAt: context.finishedAt().toISOString(),
      server: { version: context.serverVersion },
      tool: { name: "atlas-ops", version: toolVersion },
      databases: context.databases,
      collections: entries,
      totals: {
        collections: entries.length,
        documents: entries.reduce((sum, entry) => sum + entry.documents, 0),
        bytes: entries.reduce((sum, entry) => sum + entry.bytes, 0),
      },
    };
    const manifestJson = encodeManifest(manifest);
    await tar.file(`${name}/${MANIFEST_ENTRY}`, manifestJson, manifestJson.length);
    await tar.end();
    manifest.archive = await upload.complete();
    context.signal?.throwIfAborted();
    const url = await upload.commit(manifest);
    return { url, manifest };
  } catch (error) {
    // The store's own failure (or the interruption) is the cause; what the writer saw after it says less.
    const cause = tar.storeFailure ?? failure ?? error;
    tar.destroy();
    await upload.abort(cause);
    throw cause;
  } finally {
    context.signal?.removeEventListener("abort", stop);
  }
}
