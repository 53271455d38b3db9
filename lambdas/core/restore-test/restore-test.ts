import type { BackupKind, ManifestCollection } from "../archive/events";
import { checkRestoredCollection, type CollectionCheck } from "../restore/verify-restored";
import { connectMongo } from "../mongo/connect";
import { restoreArchive, type ArchiveRestoreReport } from "../restore/restore-archive";
import { NamespaceSelection } from "../restore/namespaces";
import type { BackupTarget, UnreadableSidecar } from "../targets/target";
import { assertNotProduction, type ProductionDatabase } from "./production-guard";
import { DEFAULT_SCRATCH_PREFIX, scratchDatabaseName } from "./scratch";

export interface RestoreTestConfig {
  target: BackupTarget;
  kind: BackupKind;
  /** The scratch server (restore-test user's credentials). */
  scratchUri: string;
  production: ProductionDatabase;
  /** Restored databases are named `<prefix><database>` (default `restoretest_`), then dropped. */
  scratchPrefix?: string;
  now?: () => Date;
}

export type { CollectionCheck };

/** The outcome, shaped for metrics (RestoreTestSucceeded, RestoreDurationMs, RestoredBackupAgeHours, ...). */
export interface RestoreTestResult {
  ok: boolean;
  /** Why it failed, precise enough to act on. */
  reason?: string;
  /** The failure was the scratch server refusing the credentials (they may have been rotated meanwhile). */
  authenticationFailed?: boolean;
  backup?: { name: string; url: string; kind: BackupKind; finishedAt: string };
  /** Measured recovery time: restore of every document and index (RTO). */
  restoreDurationMs: number;
  /** Time to check counts, digests and indexes. */
  verifyDurationMs: number;
  /** Age of the restored backup at test time (RPO). */
  backupAgeHours: number;
  documents: number;
  bytes: number;
  collections: CollectionCheck[];
  scratchDatabases: string[];
  scratchDropped: boolean;
  /** Sidecars skipped while looking for the newest backup because they cannot be read. */
  unreadableSidecars: UnreadableSidecar[];
  restore?: ArchiveRestoreReport;
}

/**
 * The restore drill: restore the newest backup of a kind into scratch databases, prove the data is the
 * backup's (per collection count, order-independent digest of the raw documents, indexes), then drop the
 * scratch databases whatever happened.
 */
export async function runRestoreTest(config: RestoreTestConfig): Promise<RestoreTestResult> {
  const now = config.now ?? (() => new Date());
  const prefix = config.scratchPrefix ?? DEFAULT_SCRATCH_PREFIX;
  const result: RestoreTestResult = {
    ok: false,
    restoreDurationMs: 0,
    verifyDurationMs: 0,
    backupAgeHours: 0,
    documents: 0,
    bytes: 0,
    collections: [],
    scratchDatabases: [],
    scratchDropped: true,
    unreadableSidecars: [],
  };
  const backup = await config.target.latest(config.kind, {
    onUnreadable: (sidecar) => result.unreadableSidecars.push(sidecar),
  });
  if (!backup) {
    result.reason = `no committed ${config.kind} backup in ${config.target.url}`;
    return result;
  }
  const { manifest } = backup;
  result.backup = { name: backup.name, url: backup.url, kind: backup.kind, finishedAt: manifest.finishedAt };
  result.backupAgeHours = (now().getTime() - Date.parse(manifest.finishedAt)) / 3_600_000;
  const selection = new NamespaceSelection({
    renameFrom: ["$db$.$collection$"],
    renameTo: [`${scratchDatabaseName("$db$", prefix)}.$collection$`],
  });
  const scratchOf = (entry: ManifestCollection) =>
    selection.target({ db: entry.db, collection: entry.collection })!;
  result.scratchDatabases = [...new Set(manifest.collections.map((entry) => scratchOf(entry).db))];
  assertNotProduction(config.scratchUri, result.scratchDatabases, config.production);

  const client = await connectMongo(config.scratchUri, { appName: "atlas-ops/restore-test" });
  try {
    const started = Date.now();
    // --drop: scratch databases left by an interrupted earlier run must not fail this one.
    const report = await restoreArchive({ target: config.target, key: backup.key }, client, {
      selection,
      drop: true,
    });
    result.restore = report;
    result.restoreDurationMs = Date.now() - started;
    result.documents = report.totals.documents;
    result.bytes = report.totals.bytes;
    if (!report.ok) {
      const where = report.failure?.where ? ` at ${report.failure.where}` : "";
      result.reason = `restore of ${backup.name} failed${where}: ${report.failure?.message ?? "unknown error"}`;
      if (report.failure?.authenticationFailed) result.authenticationFailed = true;
      return result;
    }
    const verifyStarted = Date.now();
    for (const entry of manifest.collections) {
      const restored = report.namespaces.find((ns) => ns.source === `${entry.db}.${entry.collection}`);
      if (restored?.type === "view") continue;
      result.collections.push(
        await checkRestoredCollection(client, entry, scratchOf(entry), restored?.indexes ?? []),
      );
    }
    result.verifyDurationMs = Date.now() - verifyStarted;
    const problems = result.collections.filter((check) => check.problem);
    if (problems.length > 0) {
      result.reason = `restored data differs from the manifest of ${backup.name}: ${problems
        .map((check) => `${check.namespace}: ${check.problem}`)
        .join("; ")}`;
      return result;
    }
    result.ok = true;
    return result;
  } finally {
    try {
      for (const db of result.scratchDatabases) await client.db(db).dropDatabase();
    } catch (error) {
      result.scratchDropped = false;
      result.ok = false;
      const detail = `could not drop scratch databases ${result.scratchDatabases.join(", ")}: ${(error as Error).message}`;
      result.reason = result.reason ? `${result.reason}; ${detail}` : detail;
    }
    await client.close();
  }
}
