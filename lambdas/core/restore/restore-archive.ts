import type { Readable } from "node:stream";
import type { MongoClient } from "mongodb";
import type { ArchiveFormat, BackupManifest } from "../archive/events";
import { readArchive } from "../archive/read-archive";
import type { BackupTarget } from "../targets/target";
import { restoreEvents, type RestoreOptions, type RestoreProgress } from "./engine";
import { parseNamespace, type Namespace } from "./namespaces";
import type { NamespaceReport, RestoreReport } from "./report";
import { checkRestoredCollection, type CollectionCheck } from "./verify-restored";

export interface ArchiveLocation {
  target: BackupTarget;
  /** Key of the archive relative to the target. */
  key: string;
}

/** The engine's progress, plus how far the archive has been read: a total for a stock archive too. */
export interface ArchiveRestoreProgress extends RestoreProgress {
  /** Compressed bytes the reader has taken from the archive, from its start. */
  archiveBytesRead: number;
  /** The archive's size as stored. */
  archiveBytes: number;
}

export interface RestoreArchiveOptions extends Omit<RestoreOptions, "expectedNamespaces" | "onProgress"> {
  onProgress?: (progress: ArchiveRestoreProgress) => void;
  /** Where the reader may spool entries met before their metadata (default the system's temp dir). */
  tempDir?: string;
  /**
   * After the restore, read every restored collection back and compare count, documents digest and indexes
   * with the manifest (archives with a manifest only).
   */
  verify?: boolean;
}

export interface ArchiveRestoreReport extends RestoreReport {
  /** The archive's manifest (from its sidecar), when it has one. */
  manifest?: BackupManifest;
  /** With `verify`: each restored collection read back and compared with the manifest. */
  checks?: CollectionCheck[];
  /** With `verify`: the time those read-backs took (part of `durationMs`). */
  checkDurationMs?: number;
}

/**
 * Restores one archive (ours, a tarred mongodump directory or a mongodump --archive, gzipped or not) from a
 * backup target, streaming it: nothing is downloaded whole. With a sidecar manifest the reader checks every
 * file's SHA-256 and count as it streams, and the targets are checked for data before anything is written.
 * Without one (stock archives), a first read-only pass lists the namespaces and checks the whole archive,
 * so a refused or broken archive leaves the target untouched and the report names every namespace.
 */
export async function restoreArchive(
  location: ArchiveLocation,
  client: MongoClient | undefined,
  options: RestoreArchiveOptions = {},
): Promise<ArchiveRestoreReport> {
  const started = Date.now();
  const manifest = await location.target.readSidecar(location.key);
  if (options.verify && !manifest && !options.dryRun) return verifyRefused(started);
  let format: ArchiveFormat | undefined;
  const streams: Readable[] = [];
  const resumeAt = options.resume?.checkpoint;
  const start =
    resumeAt === undefined ? undefined : manifest?.archive?.checkpoints?.[resumeAt]?.archiveOffset;
  if (resumeAt !== undefined && start === undefined) {
    throw new Error(
      `cannot resume the restore at checkpoint ${resumeAt}: the archive's sidecar does not list it`,
    );
  }
  const read = async () => {
    const { stream, bytes } = await location.target.openArchive(location.key, { start });
    streams.push(stream);
    const position = { archiveBytesRead: start ?? 0, archiveBytes: bytes };
    const events = readArchive(counted(stream, position), {
      manifest,
      tempDir: options.tempDir,
      onFormat: (found) => (format = found),
      checkpointEvents: options.stopAt !== undefined,
      resumeAt,
    });
    return { events, position };
  };
  try {
    let expected: Namespace[] | undefined = manifest?.collections.map(({ db, collection }) => ({
      db,
      collection,
    }));
    if (!expected && client && !options.dryRun) {
      const plan = await restoreEvents((await read()).events, undefined, {
        ...options,
        dryRun: true,
        onProgress: undefined,
      });
      if (!plan.ok) {
        const failure = plan.failure && {
          ...plan.failure,
          message: `${plan.failure.message} (found while checking the archive before writing: nothing was written)`,
        };
        const untouched = plan.namespaces.map((ns) => ({ ...ns, documents: 0, bytes: 0 }));
        const totals = { namespaces: untouched.length, documents: 0, bytes: 0 };
        return {
          ...plan,
          dryRun: false,
          namespaces: untouched,
          totals,
          failure,
          format,
          durationMs: Date.now() - started,
        };
      }
      expected = [
        ...plan.namespaces.map((ns) => ns.source),
        ...plan.skipped.map((skip) => skip.namespace),
      ].map(parseNamespace);
    }
    const checks: CollectionCheck[] = [];
    const timing = { checkDurationMs: 0 };
    const checkStaged =
      options.verify && manifest && client ? againstManifest(client, manifest, checks, timing) : undefined;
    const { events, position } = await read();
    const onProgress = options.onProgress;
    const report = await restoreEvents(events, client, {
      ...options,
      expectedNamespaces: expected,
      checkStaged,
      onProgress: onProgress && ((progress) => onProgress({ ...progress, ...position })),
    });
    const result: ArchiveRestoreReport = {
      ...report,
      format,
      manifest,
      ...(checkStaged ? { checks, checkDurationMs: timing.checkDurationMs } : {}),
    };
    return { ...result, durationMs: Date.now() - started };
  } finally {
    for (const stream of streams) stream.destroy();
  }
}

/** The archive's bytes, counted into `position` as the reader takes them. */
async function* counted(
  source: AsyncIterable<Buffer>,
  position: { archiveBytesRead: number },
): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    position.archiveBytesRead += chunk.length;
    yield chunk;
  }
}

/** `--verify` compares with the manifest: without one it cannot, and says so before writing anything. */
function verifyRefused(started: number): ArchiveRestoreReport {
  return {
    ok: false,
    dryRun: false,
    namespaces: [],
    skipped: [],
    conflicts: [],
    totals: { namespaces: 0, documents: 0, bytes: 0 },
    durationMs: Date.now() - started,
    failure: {
      message:
        "--verify compares the restored collections with the archive's manifest, and this archive has none " +
        "(a stock mongodump archive): nothing was written; restore without --verify",
    },
  };
}

/**
 * With `--verify`: each complete temporary collection is read back and compared with its manifest entry
 * (count, documents digest, indexes) before it replaces its target, so a copy that differs never does.
 */
function againstManifest(
  client: MongoClient,
  manifest: BackupManifest,
  checks: CollectionCheck[],
  timing: { checkDurationMs: number },
) {
  const entries = new Map(manifest.collections.map((c) => [`${c.db}\u0000${c.collection}`, c]));
  return async (
    source: Namespace,
    staged: Namespace,
    report: NamespaceReport,
  ): Promise<string | undefined> => {
    const entry = entries.get(`${source.db}\u0000${source.collection}`);
    if (!entry || report.type === "view") return undefined;
    const started = Date.now();
    const check = await checkRestoredCollection(client, entry, staged, report.indexes);
    timing.checkDurationMs += Date.now() - started;
    checks.push({ ...check, restored: report.target });
    return check.problem && `differs from the manifest: ${check.problem}`;
  };
}
