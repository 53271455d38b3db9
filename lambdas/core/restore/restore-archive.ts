import type { Readable } from "node:stream";
import type { MongoClient } from "mongodb";
import type { ArchiveFormat, BackupManifest } from "../archive/events";
import { readArchive } from "../archive/read-archive";
import type { BackupTarget } from "../targets/target";
import { restoreEvents, type RestoreOptions } from "./engine";
import { parseNamespace, type Namespace } from "./namespaces";
import type { RestoreReport } from "./report";
import { checkRestoredCollection, type CollectionCheck } from "./verify-restored";

export interface ArchiveLocation {
  target: BackupTarget;
  /** Key of the archive relative to the target. */
  key: string;
}

export interface RestoreArchiveOptions extends Omit<RestoreOptions, "expectedNamespaces"> {
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
}

/**
 * Restores one archive (ours, a tarred mongodump directory or a mongodump --archive, gzipped or not) from a
 * backup target, streaming it: nothing is downloaded whole. With a sidecar manifest the reader checks every
 * file's SHA-256 and count as it streams, and the targets are checked for data before anything is written.
 * Without one (stock archives), a first read-only pass lists the namespaces and checks the whole archive,
 * so a refused or broken archive leaves the target untouched; `--drop` skips that pass.
 */
export async function restoreArchive(
  location: ArchiveLocation,
  client: MongoClient | undefined,
  options: RestoreArchiveOptions = {},
): Promise<ArchiveRestoreReport> {
  const started = Date.now();
  const manifest = await location.target.readSidecar(location.key);
  let format: ArchiveFormat | undefined;
  const streams: Readable[] = [];
  const read = async () => {
    const stream = await location.target.openArchive(location.key);
    streams.push(stream);
    return readArchive(stream, { manifest, tempDir: options.tempDir, onFormat: (found) => (format = found) });
  };
  try {
    let expected: Namespace[] | undefined = manifest?.collections.map(({ db, collection }) => ({
      db,
      collection,
    }));
    if (!expected && client && !options.drop && !options.dryRun) {
      const plan = await restoreEvents(await read(), undefined, {
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
    const report = await restoreEvents(await read(), client, { ...options, expectedNamespaces: expected });
    const result: ArchiveRestoreReport = { ...report, format, manifest };
    if (options.verify && client && report.ok && !options.dryRun) await verifyRestored(client, result);
    return { ...result, durationMs: Date.now() - started };
  } finally {
    for (const stream of streams) stream.destroy();
  }
}

async function verifyRestored(client: MongoClient, report: ArchiveRestoreReport): Promise<void> {
  if (!report.manifest) {
    report.ok = false;
    report.failure = {
      message: "--verify needs the archive's manifest (a stock mongodump archive has none)",
    };
    return;
  }
  report.checks = [];
  for (const entry of report.manifest.collections) {
    const restored = report.namespaces.find((ns) => ns.source === `${entry.db}.${entry.collection}`);
    if (!restored || restored.type === "view") continue;
    const target = parseNamespace(restored.target);
    report.checks.push(await checkRestoredCollection(client, entry, target, restored.indexes));
  }
  const problems = report.checks.filter((check) => check.problem);
  if (problems.length > 0) {
    report.ok = false;
    report.failure = {
      message: `restored data differs from the manifest: ${problems.map((c) => `${c.restored}: ${c.problem}`).join("; ")}`,
      where: problems[0]!.restored,
    };
  }
}
