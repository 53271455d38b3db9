import { createHash, randomBytes } from "node:crypto";
import { BSON, type MongoClient } from "mongodb";
import { connectMongo } from "../mongo/connect";
import { redactSecrets } from "../mongo/uri";
import type { BackupKind, BackupManifest, Checkpoint, ManifestCollection } from "../archive/events";
import { encodeManifest } from "../archive/manifest";
import { encodeMetadata } from "../archive/metadata";
import { archiveName, collectionFileName, continuationKey, MANIFEST_ENTRY } from "../archive/names";
import type { ParallelGzipOptions } from "../archive/parallel-gzip";
import { clearAbandonedSpools } from "../targets/partial-files";
import { SEGMENT_BYTES } from "../archive/segments";
import { BackupConflictError, type ArchiveUpload, type BackupTarget } from "../targets/target";
import { TarWriter, type OpenEntry, type OpenEntryState, type TarState } from "./archive-writer";
import {
  CollectionReader,
  readWhole,
  reportedSize,
  type CollectionSummary,
  type ReadPosition,
} from "./collection-dump";
import { decodeContinuation, encodeContinuation } from "./continuation";
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
  /** Bytes of a .bson segment, and of tar between checkpoints (default SEGMENT_BYTES). */
  segmentBytes?: number;
}

/** One invocation of a backup that may span several (a workflow step). */
export interface BackupStepOptions extends BackupOptions {
  /** Time left in this invocation: the step stops at a checkpoint while the next interval still fits. */
  remainingMs: () => number;
  /** Time kept for storing the continuation (default: a quarter of the time left at the start, at most 60 s). */
  marginMs?: number;
  /** The `continuation` of the previous step's result. */
  resume?: string;
}

export type BackupStep =
  | { done: true; result: BackupResult }
  | {
      done: false;
      /** Key of the stored state (relative to the target), for the next step's `resume`. */
      continuation: string;
      step: number;
      progress: { collections: number; documents: number; bytes: number };
    };

export type BackupProgress =
  /** The data's size as the server reports it (`dbStats`), when it does: an estimate of the total. */
  | { type: "started"; expectedBytes?: number }
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
  const step = await runBackupStep({ ...options, remainingMs: () => Number.POSITIVE_INFINITY });
  if (!step.done) throw new BackupError("a backup without a deadline stopped before its end");
  return step.result;
}

/**
 * Runs a backup, or one step of it: with little time left, it stops at a checkpoint (where gzip members end
 * and, inside a .bson, a segment ends) and stores what the next step needs. The last step commits.
 */
export async function runBackupStep(options: BackupStepOptions): Promise<BackupStep> {
  const now = options.now ?? (() => new Date());
  const startedMs = Date.now();
  const client = await connectMongo(options.uri, { appName: "atlas-ops/backup" });
  try {
    let run: ArchiveRun;
    let removedAbandoned: string[] = [];
    if (options.resume) {
      run = await ArchiveRun.resume(client, options, options.resume);
    } else {
      const started = now();
      removedAbandoned = [...(await options.target.clearAbandoned()), ...(await clearAbandonedSpools())];
      const databases = await chooseDatabases(client, options.databases);
      const sources: SourceCollection[] = [];
      for (const db of databases) sources.push(...(await listSourceCollections(client, db)));
      const version = await serverVersion(client);
      run = await ArchiveRun.start(client, options, { started, databases, serverVersion: version, sources });
    }
    const outcome = await run.write(now);
    if (!outcome.done) return outcome;
    const manifest = outcome.manifest;
    return {
      done: true,
      result: {
        archive: outcome.url,
        name: manifest.name,
        kind: manifest.kind,
        sha256: manifest.archive!.sha256,
        bytes: manifest.archive!.bytes,
        dataBytes: manifest.totals.bytes,
        collections: manifest.totals.collections,
        documents: manifest.totals.documents,
        // The whole backup's, over all its steps (the manifest's times are the run's).
        durationMs: options.resume
          ? Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt)
          : Date.now() - startedMs,
        manifest,
        removedAbandoned,
      },
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

/** Aborts the upload a stopped backup left open (a workflow that gave up). */
export async function abandonBackup(target: BackupTarget, continuation: string): Promise<void> {
  const { fields, upload } = decodeContinuation(await target.loadContinuation(continuation), continuation);
  const saved = fields as unknown as SavedRun;
  const resumed = await target.resumeArchive(saved.kind, saved.name, upload).catch((error: unknown) => {
    // Already gone: an earlier abandon call, or another run, finished with it.
    if (error instanceof BackupConflictError) return undefined;
    throw error;
  });
  await resumed?.abort(new Error("the backup's workflow gave up"));
}

interface RunInfo {
  started: Date;
  databases: string[];
  serverVersion: string;
  sources: SourceCollection[];
}

/** A collection whose .bson entry is open in the archive: where its read stopped. */
interface OpenCollection {
  source: SourceCollection;
  entry: OpenEntryState;
  read: ReadPosition;
}

/** What a step stores for the next one (JSON; BSON-typed metadata as canonical Extended JSON strings). */
interface SavedRun {
  /** This run's own id: its steps' state objects are its own. */
  run: string;
  step: number;
  name: string;
  kind: BackupKind;
  app: string;
  startedAt: string;
  databases: string[];
  serverVersion: string;
  /** Collections still to write, the open one first. */
  pending: string[];
  open?: { entry: OpenEntryState; read: ReadPosition };
  entries: ManifestCollection[];
  checkpoints: Checkpoint[];
  lastCheckpointTar: number;
  tar: TarState;
}

type WriteOutcome =
  { done: true; url: string; manifest: BackupManifest } | Extract<BackupStep, { done: false }>;

/** Decides at each checkpoint whether the next interval still fits in the time left. */
class StepClock {
  private last = Date.now();
  private longest = 0;
  private readonly marginMs: number;

  constructor(
    private readonly remainingMs: () => number,
    marginMs?: number,
  ) {
    this.marginMs = marginMs ?? Math.min(60_000, remainingMs() / 4);
  }

  shouldStop(): boolean {
    const now = Date.now();
    this.longest = Math.max(this.longest, now - this.last);
    this.last = now;
    return this.remainingMs() < this.marginMs + 2 * this.longest;
  }
}

class ArchiveRun {
  private readonly entries: ManifestCollection[];
  private readonly checkpoints: Checkpoint[];
  private lastCheckpointTar: number;
  private readonly clock: StepClock;
  private readonly segmentBytes: number;
  /** Set when a checkpoint decided to stop: nothing more is written in this step. */
  private stopped: { open?: OpenCollection } | undefined;
  /** Set once the upload is complete: the archive object exists from then on. */
  private completed = false;

  private constructor(
    private readonly client: MongoClient,
    private readonly options: BackupStepOptions,
    private readonly info: RunInfo & {
      name: string;
      kind: BackupKind;
      app: string;
      run: string;
      step: number;
    },
    private readonly upload: ArchiveUpload,
    private readonly tar: TarWriter,
    private readonly open: OpenCollection | undefined,
    saved?: SavedRun,
  ) {
    this.entries = saved ? [...saved.entries] : [];
    this.checkpoints = saved ? [...saved.checkpoints] : [];
    this.lastCheckpointTar = saved?.lastCheckpointTar ?? 0;
    this.clock = new StepClock(options.remainingMs, options.marginMs);
    this.segmentBytes = options.segmentBytes ?? SEGMENT_BYTES;
  }

  static async start(client: MongoClient, options: BackupStepOptions, info: RunInfo): Promise<ArchiveRun> {
    const kind = options.kind ?? "daily";
    const app = options.app ?? "opendev";
    const name = options.name ?? archiveName(app, info.started);
    options.signal?.throwIfAborted();
    const expectedBytes = await dataSize(client, info.databases);
    options.onProgress?.({ type: "started", expectedBytes });
    const upload = await options.target.startArchive(kind, name, expectedBytes);
    const tar = new TarWriter(upload, info.started, options.gzip);
    const run = randomBytes(8).toString("hex");
    return new ArchiveRun(
      client,
      options,
      { ...info, name, kind, app, run, step: 1 },
      upload,
      tar,
      undefined,
    );
  }

  static async resume(client: MongoClient, options: BackupStepOptions, key: string): Promise<ArchiveRun> {
    const { fields, upload: uploadState } = decodeContinuation(
      await options.target.loadContinuation(key),
      key,
    );
    const saved = fields as unknown as SavedRun;
    const started = new Date(saved.startedAt);
    const sources = saved.pending.map(
      (text) => BSON.EJSON.parse(text, { relaxed: false }) as unknown as SourceCollection,
    );
    const upload = await options.target.resumeArchive(saved.kind, saved.name, uploadState);
    const tar = new TarWriter(upload, started, options.gzip, saved.tar);
    const open = saved.open ? { source: sources[0]!, ...saved.open } : undefined;
    const info = {
      started,
      databases: saved.databases,
      serverVersion: saved.serverVersion,
      sources: open ? sources.slice(1) : sources,
      name: saved.name,
      kind: saved.kind,
      app: saved.app,
      run: saved.run,
      step: saved.step + 1,
    };
    return new ArchiveRun(client, options, info, upload, tar, open, saved);
  }

  async write(now: () => Date): Promise<WriteOutcome> {
    const { options, info, tar, upload, client } = this;
    const sources = info.sources;
    const readAhead = Math.min(options.memoryThreshold ?? 16 * 1024 * 1024, this.segmentBytes);
    const written = new Set<SourceCollection>();
    let failure: unknown;
    const stop = (): void => {
      failure ??= options.signal!.reason;
      // Stops the readers at once: a read in progress fails, and the abort reason is what the run reports.
      void client.close(true).catch(() => undefined);
    };
    options.signal?.addEventListener("abort", stop, { once: true });

    try {
      if (!this.open) await tar.directory(info.name);
      let next = 0;
      const open = this.open;
      let writing: Promise<void> = open
        ? this.writeCollection(open.source, undefined, open).then(async (complete) => {
            if (complete) await this.betweenCollections(sources.length > 0);
          })
        : Promise.resolve();
      const worker = async (): Promise<void> => {
        while (failure === undefined && !this.stopped && next < sources.length) {
          const source = sources[next++]!;
          const namespace = `${source.db}.${source.collection}`;
          options.onProgress?.({ type: "collection-started", namespace });
          // Small collections are read ahead while another one is being written; a larger one is streamed
          // into the archive at its turn.
          // One the server reports as larger is streamed at once, not read ahead in part and read again.
          const small =
            source.readFrom !== undefined &&
            ((await reportedSize(client, source.db, source.readFrom)) ?? 0) <= readAhead;
          const whole = small ? await readWhole(this.reader(source, { byId: false }), readAhead) : undefined;
          // Entries go into the tar one collection at a time, in the order the reads finish.
          const turn = writing.then(async () => {
            if (this.stopped) return;
            if (!(await this.writeCollection(source, whole))) return;
            written.add(source);
            await this.betweenCollections(written.size < sources.length);
          });
          writing = turn.catch(() => undefined);
          await turn;
        }
      };
      const workers = Array.from({ length: Math.max(1, options.parallelCollections ?? 2) }, () =>
        worker().catch(async (error: unknown) => {
          if (failure === undefined) {
            failure = error;
            // Stops the other readers at once instead of letting them read collections nobody will store.
            await client.close(true).catch(() => undefined);
          }
        }),
      );
      await writing.then(
        () => undefined,
        (error: unknown) => {
          failure ??= error;
        },
      );
      await Promise.all(workers);
      if (failure !== undefined) throw failure;
      if (this.stopped) return await this.suspend(sources.filter((source) => !written.has(source)));
      return await this.commit(now);
    } catch (error) {
      // The store's own failure (or the interruption) is the cause; what the writer saw after it says less.
      const cause = tar.storeFailure ?? failure ?? error;
      tar.destroy();
      // A later step's upload is the run's, not this invocation's: the workflow retries this step from the
      // same event, which goes on with it (and a run given up aborts it). A run that lost to another one is
      // over, and once complete, the archive this step created is removed, as in a one-shot run.
      if (info.step === 1 || this.completed || cause instanceof BackupConflictError)
        await upload.abort(cause);
      throw cause;
    } finally {
      options.signal?.removeEventListener("abort", stop);
    }
  }

  /**
   * A read of the collection: in natural order (as mongodump reads) when it is read ahead whole, in `_id`
   * order when it is streamed, so that a later step can resume it after its last `_id`.
   */
  private reader(source: SourceCollection, how: { byId: boolean; resume?: ReadPosition }): CollectionReader {
    const namespace = `${source.db}.${source.collection}`;
    return new CollectionReader(this.client, source.db, source.readFrom!, namespace, {
      segmentBytes: this.segmentBytes,
      byId: how.byId,
      resume: how.resume,
      onDocuments: (documents, bytes) =>
        this.options.onProgress?.({ type: "documents", namespace, documents, bytes }),
    });
  }

  /**
   * Writes one collection's entries (or, resumed, the rest of its open .bson) and lists it in the manifest;
   * false when the step stopped inside it.
   */
  private async writeCollection(
    source: SourceCollection,
    whole: { runs: Buffer[]; summary: CollectionSummary } | undefined,
    resumed?: OpenCollection,
  ): Promise<boolean> {
    const { tar, info } = this;
    const namespace = `${source.db}.${source.collection}`;
    const base = `${info.name}/${source.db}/${collectionFileName(source.collection)}`;
    const metadata = encodeMetadata(source.metadata);
    if (!resumed) {
      await tar.directory(`${info.name}/${source.db}`);
      await tar.file(`${base}.metadata.json`, metadata, metadata.length);
    }
    let summary: CollectionSummary | undefined;
    if (whole) {
      await tar.file(`${base}.bson`, whole.runs, whole.summary.bytes);
      summary = whole.summary;
    } else if (source.readFrom) {
      // Without an `_id` index the read is in natural order, which cannot be resumed: such a collection is
      // written within one step (its checkpoints still serve the readers).
      const resumable = hasIdIndex(source);
      const streamed = this.reader(source, { byId: resumable, resume: resumed?.read });
      const entry: OpenEntry = resumed ? tar.resumeFile(resumed.entry) : await tar.openFile(`${base}.bson`);
      for await (const run of streamed.batches()) {
        await entry.write([run]);
        if (!streamed.atSegmentEnd) continue;
        const read = streamed.position();
        if ((await this.checkpoint({ path: `${base}.bson`, read })) && resumable) {
          this.stopped = { open: { source, entry: entry.state(), read } };
          return false;
        }
      }
      await entry.close();
      summary = streamed.summary();
      // A segment that ended with the file's last document left a checkpoint at the end of its data, before
      // the padding: no place for a reader to start. A step may have stopped there; readers need not know.
      const last = this.checkpoints.at(-1);
      if (last?.file?.path === `${base}.bson` && last.file.offset === summary.bytes) this.checkpoints.pop();
    }
    this.entries.push({
      db: source.db,
      collection: source.collection,
      file: `${base}.bson`,
      metadataFile: `${base}.metadata.json`,
      documents: summary?.documents ?? 0,
      bytes: summary?.bytes ?? 0,
      ...(summary?.segments ? { segments: summary.segments } : { sha256: summary?.sha256 ?? EMPTY_SHA256 }),
      metadataSha256: createHash("sha256").update(metadata).digest("hex"),
      documentsDigest: summary?.documentsDigest ?? "0".repeat(64),
    });
    this.options.onProgress?.({
      type: "collection-done",
      namespace,
      documents: summary?.documents ?? 0,
      bytes: summary?.bytes ?? 0,
    });
    return true;
  }

  /** Between two collections: a checkpoint once a segment's worth of tar has passed since the last one. */
  private async betweenCollections(more: boolean): Promise<void> {
    if (!more || this.tar.offset - this.lastCheckpointTar < this.segmentBytes) return;
    if (await this.checkpoint()) this.stopped = {};
  }

  /** Ends the gzip members here and lists the place; true when this step should stop at it. */
  private async checkpoint(inFile?: { path: string; read: ReadPosition }): Promise<boolean> {
    const point = await this.tar.boundary();
    this.checkpoints.push(
      inFile
        ? {
            ...point,
            file: {
              path: inFile.path,
              offset: inFile.read.hashed.bytes,
              documents: inFile.read.hashed.documents,
              segment: inFile.read.hashed.segments.length,
            },
          }
        : point,
    );
    this.lastCheckpointTar = point.tarOffset;
    return this.clock.shouldStop();
  }

  private async suspend(unwritten: SourceCollection[]): Promise<WriteOutcome> {
    const open = this.stopped?.open;
    const tar = await this.tar.suspend();
    const upload = await this.upload.suspend();
    const pending = open ? [open.source, ...unwritten.filter((source) => source !== open.source)] : unwritten;
    const saved: SavedRun = {
      run: this.info.run,
      step: this.info.step,
      name: this.info.name,
      kind: this.info.kind,
      app: this.info.app,
      startedAt: this.info.started.toISOString(),
      databases: this.info.databases,
      serverVersion: this.info.serverVersion,
      pending: pending.map((source) => BSON.EJSON.stringify(source as never, { relaxed: false })),
      ...(open ? { open: { entry: open.entry, read: open.read } } : {}),
      entries: this.entries,
      checkpoints: this.checkpoints,
      lastCheckpointTar: this.lastCheckpointTar,
      tar,
    };
    const continuation = continuationKey(this.info.kind, this.info.name, this.info.run, this.info.step);
    await this.options.target.saveContinuation(
      continuation,
      encodeContinuation(saved as unknown as Record<string, unknown>, upload),
    );
    return {
      done: false,
      continuation,
      step: this.info.step,
      progress: {
        collections: this.entries.length,
        documents:
          this.entries.reduce((sum, entry) => sum + entry.documents, 0) + (open?.read.hashed.documents ?? 0),
        bytes: this.entries.reduce((sum, entry) => sum + entry.bytes, 0) + (open?.read.hashed.bytes ?? 0),
      },
    };
  }

  private async commit(now: () => Date): Promise<WriteOutcome> {
    const { info, tar, upload, entries } = this;
    const manifest: BackupManifest = {
      formatVersion: 1,
      app: info.app,
      kind: info.kind,
      name: info.name,
      startedAt: info.started.toISOString(),
      finishedAt: now().toISOString(),
      server: { version: info.serverVersion },
      tool: { name: "atlas-ops", version: toolVersion },
      databases: info.databases,
      collections: entries,
      totals: {
        collections: entries.length,
        documents: entries.reduce((sum, entry) => sum + entry.documents, 0),
        bytes: entries.reduce((sum, entry) => sum + entry.bytes, 0),
      },
    };
    const manifestJson = encodeManifest(manifest);
    await tar.file(`${info.name}/${MANIFEST_ENTRY}`, manifestJson, manifestJson.length);
    await tar.end();
    const stored = await upload.complete();
    this.completed = true;
    manifest.archive = this.checkpoints.length > 0 ? { ...stored, checkpoints: this.checkpoints } : stored;
    this.options.signal?.throwIfAborted();
    const url = await upload.commit(manifest);
    return { done: true, url, manifest };
  }
}

const EMPTY_SHA256 = createHash("sha256").digest("hex");

/** The databases' data size (`dbStats`), so the store can plan its parts; undefined when a server will not say. */
async function dataSize(client: MongoClient, databases: string[]): Promise<number | undefined> {
  try {
    let total = 0;
    for (const db of databases) total += Number((await client.db(db).command({ dbStats: 1 })).dataSize ?? 0);
    return total;
  } catch {
    return undefined;
  }
}

/** A collection read in `_id` order can be resumed after its last `_id`; without the index that is a sort. */
function hasIdIndex(source: SourceCollection): boolean {
  return source.metadata.indexes.some((index) => index.name === "_id_");
}
