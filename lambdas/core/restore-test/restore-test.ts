import type { MongoClient } from "mongodb";
import type { BackupKind, BackupManifest, ManifestCollection } from "../archive/events";
import { formatNamespace, NamespaceSelection } from "../restore/namespaces";
import { checkRestoredCollection, type CollectionCheck } from "../restore/verify-restored";
import { connectMongo } from "../mongo/connect";
import { restoreArchive, type ArchiveRestoreReport } from "../restore/restore-archive";
import type { RestoreStop } from "../restore/resume";
import type { BackupTarget, StoredBackup, UnreadableSidecar } from "../targets/target";
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
  /** Invocations the test took, when more than one (it resumed at checkpoints). */
  invocations?: number;
}

/**
 * Where a restore test that stopped at a checkpoint stands; JSON-safe and small (counters, not lists: each
 * collection was compared with its manifest entry before it took its scratch name).
 */
export interface RestoreTestContinuation {
  backup: { name: string; key: string; url: string; kind: BackupKind; finishedAt: string };
  /** The sidecar's `archive.sha256`: a resumed step refuses a sidecar that changed. */
  archiveSha256: string;
  stop: RestoreStop;
  /** The scratch databases holding what the steps so far restored (dropped when the run is abandoned). */
  scratchDatabases: string[];
  /** Collections restored and checked before the checkpoint, their documents and bytes. */
  collections: number;
  documents: number;
  bytes: number;
  /** Namespaces restored as views (nothing to read back). */
  views: string[];
  /**
   * Namespaces written in place (time-series, system.js): not checked before a rename, so read back once
   * the restore is done, with the index names to find.
   */
  inPlace: { namespace: string; indexes: string[] }[];
  restoreDurationMs: number;
  verifyDurationMs: number;
  invocations: number;
  longestIntervalMs: number;
  unreadableSidecars: UnreadableSidecar[];
}

export type RestoreTestStep =
  { done: true; result: RestoreTestResult } | { done: false; continuation: RestoreTestContinuation };

export interface RestoreTestStepOptions {
  /** Milliseconds this invocation has left; with it the test may stop at a checkpoint and go on later. */
  remainingMs?: () => number;
  /** Time kept in reserve besides twice the longest checkpoint interval seen (default 30 s). */
  marginMs?: number;
  resume?: RestoreTestContinuation;
}

const DEFAULT_MARGIN_MS = 30_000;

/**
 * The restore drill: restore the newest backup of a kind into scratch databases, prove the data is the
 * backup's (per collection count, order-independent digest of the raw documents, indexes), then drop the
 * scratch databases whatever happened.
 */
export async function runRestoreTest(config: RestoreTestConfig): Promise<RestoreTestResult> {
  const step = await runRestoreTestStep(config);
  if (!step.done) throw new Error("a restore test without a time limit stopped at a checkpoint");
  return step.result;
}

/**
 * One invocation's part of the restore drill. With `remainingMs`, each collection is compared with its
 * manifest entry as soon as it is complete (before it takes its scratch name), and the restore stops at a
 * checkpoint when the time left is below the margin plus twice the longest checkpoint interval seen; the
 * scratch databases then stay, with the collection in progress in its temporary collection, for the next
 * step (`resume`) to go on. They are dropped once the test is done, passed or failed.
 */
export async function runRestoreTestStep(
  config: RestoreTestConfig,
  options: RestoreTestStepOptions = {},
): Promise<RestoreTestStep> {
  const now = config.now ?? (() => new Date());
  const prefix = config.scratchPrefix ?? DEFAULT_SCRATCH_PREFIX;
  const resume = options.resume;
  const stepwise = options.remainingMs !== undefined || resume !== undefined;
  const result: RestoreTestResult = {
    ok: false,
    restoreDurationMs: resume?.restoreDurationMs ?? 0,
    verifyDurationMs: resume?.verifyDurationMs ?? 0,
    backupAgeHours: 0,
    documents: 0,
    bytes: 0,
    collections: [],
    scratchDatabases: [],
    scratchDropped: true,
    unreadableSidecars: resume?.unreadableSidecars ?? [],
    ...(resume ? { invocations: resume.invocations } : {}),
  };
  const done = (): RestoreTestStep => ({ done: true, result });
  let backup: StoredBackup | undefined;
  if (resume) {
    const manifest = await config.target.readSidecar(resume.backup.key);
    if (manifest?.archive?.sha256 === resume.archiveSha256) backup = { ...resume.backup, manifest };
    else {
      result.reason = `the sidecar of ${resume.backup.url} changed since the restore test started`;
      return done();
    }
  } else {
    backup = await config.target.latest(config.kind, {
      onUnreadable: (sidecar) => result.unreadableSidecars.push(sidecar),
    });
  }
  if (!backup) {
    result.reason = `no committed ${config.kind} backup in ${config.target.url}`;
    return done();
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
  let keepScratch = false;
  try {
    const started = Date.now();
    const margin = options.marginMs ?? DEFAULT_MARGIN_MS;
    let longest = resume?.longestIntervalMs ?? 0;
    let lastCheckpointAt = started;
    const remainingMs = options.remainingMs;
    // --drop: scratch databases left by an interrupted earlier run must not fail this one.
    const report = await restoreArchive({ target: config.target, key: backup.key }, client, {
      selection,
      drop: true,
      verify: stepwise,
      resume: resume?.stop,
      stopAt: remainingMs
        ? () => {
            const at = Date.now();
            longest = Math.max(longest, at - lastCheckpointAt);
            lastCheckpointAt = at;
            return remainingMs() < margin + 2 * longest;
          }
        : undefined,
    });
    result.restore = report;
    const checkMs = report.checkDurationMs ?? 0;
    result.restoreDurationMs += Date.now() - started - checkMs;
    result.verifyDurationMs += checkMs;
    const completed = report.namespaces.filter((ns) => ns.status === "completed");
    result.documents = (resume?.documents ?? 0) + completed.reduce((sum, ns) => sum + ns.documents, 0);
    result.bytes = (resume?.bytes ?? 0) + completed.reduce((sum, ns) => sum + ns.bytes, 0);
    if (!report.ok) {
      const where = report.failure?.where ? ` at ${report.failure.where}` : "";
      result.reason = `restore of ${backup.name} failed${where}: ${report.failure?.message ?? "unknown error"}`;
      if (report.failure?.authenticationFailed) result.authenticationFailed = true;
      return done();
    }
    const views = [
      ...(resume?.views ?? []),
      ...report.namespaces.filter((ns) => ns.type === "view").map((ns) => ns.source),
    ];
    const inPlace = [
      ...(resume?.inPlace ?? []),
      ...report.namespaces
        .filter((ns) => ns.type !== "view" && ns.status !== "untouched" && writtenInPlace(ns))
        .map((ns) => ({ namespace: ns.source, indexes: ns.indexes })),
    ];
    if (report.stopped) {
      keepScratch = true;
      return {
        done: false,
        continuation: {
          backup: {
            name: backup.name,
            key: backup.key,
            url: backup.url,
            kind: backup.kind,
            finishedAt: manifest.finishedAt,
          },
          archiveSha256: manifest.archive!.sha256,
          stop: report.stopped,
          scratchDatabases: result.scratchDatabases,
          collections: (resume?.collections ?? 0) + (report.checks?.length ?? 0),
          documents: result.documents,
          bytes: result.bytes,
          views,
          inPlace,
          restoreDurationMs: result.restoreDurationMs,
          verifyDurationMs: result.verifyDurationMs,
          invocations: (resume?.invocations ?? 1) + 1,
          longestIntervalMs: longest,
          unreadableSidecars: result.unreadableSidecars,
        },
      };
    }
    if (stepwise) {
      const checked = (resume?.collections ?? 0) + (report.checks?.length ?? 0);
      passedChecks(result, manifest, scratchOf, new Set(views), checked, inPlace);
      if (!result.reason) await checkInPlace(client, result, manifest, scratchOf, inPlace);
    } else {
      await checkAfterRestore(client, result, manifest, scratchOf, report);
    }
    if (result.reason) return done();
    result.ok = true;
    return done();
  } finally {
    if (!keepScratch) await dropScratch(client, result);
    await client.close();
  }
}

/**
 * A run its workflow gave up on: its scratch databases (kept between steps) are dropped. Safe to call twice.
 */
export async function abandonRestoreTest(
  config: RestoreTestConfig,
  continuation: RestoreTestContinuation,
): Promise<RestoreTestResult> {
  const result: RestoreTestResult = {
    ok: false,
    reason: "abandoned by its workflow",
    restoreDurationMs: continuation.restoreDurationMs,
    verifyDurationMs: continuation.verifyDurationMs,
    backupAgeHours: 0,
    documents: continuation.documents,
    bytes: continuation.bytes,
    collections: [],
    scratchDatabases: continuation.scratchDatabases,
    scratchDropped: true,
    unreadableSidecars: [],
  };
  assertNotProduction(config.scratchUri, result.scratchDatabases, config.production);
  const client = await connectMongo(config.scratchUri, { appName: "atlas-ops/restore-test" });
  try {
    await dropScratch(client, result);
  } finally {
    await client.close();
  }
  return result;
}

/** One-shot: each restored collection read back and compared with the manifest once all are in. */
async function checkAfterRestore(
  client: MongoClient,
  result: RestoreTestResult,
  manifest: BackupManifest,
  scratchOf: (entry: ManifestCollection) => { db: string; collection: string },
  report: ArchiveRestoreReport,
): Promise<void> {
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
    result.reason = `restored data differs from the manifest of ${manifest.name}: ${problems
      .map((check) => `${check.namespace}: ${check.problem}`)
      .join("; ")}`;
  }
}

/**
 * Stepwise: every collection was compared with its manifest entry before it took its scratch name (a
 * difference fails the restore), so the checks of a passed test are the manifest's own figures; what must
 * hold is that every collection but the views was checked.
 */
function passedChecks(
  result: RestoreTestResult,
  manifest: BackupManifest,
  scratchOf: (entry: ManifestCollection) => { db: string; collection: string },
  views: Set<string>,
  checked: number,
  inPlace: { namespace: string }[],
): void {
  const skip = new Set([...views, ...inPlace.map((ns) => ns.namespace)]);
  const entries = manifest.collections.filter((entry) => !skip.has(`${entry.db}.${entry.collection}`));
  if (checked !== entries.length) {
    result.reason = `${checked} of the ${entries.length} collections of ${manifest.name} were checked`;
    return;
  }
  result.collections = entries.map((entry) => ({
    namespace: `${entry.db}.${entry.collection}`,
    restored: formatNamespace(scratchOf(entry)),
    expectedDocuments: entry.documents,
    documents: entry.documents,
    digestMatches: true,
    missingIndexes: [],
  }));
}

/** Time-series and system.js are written in place, without a temporary copy: they are read back now. */
async function checkInPlace(
  client: MongoClient,
  result: RestoreTestResult,
  manifest: BackupManifest,
  scratchOf: (entry: ManifestCollection) => { db: string; collection: string },
  inPlace: { namespace: string; indexes: string[] }[],
): Promise<void> {
  const started = Date.now();
  for (const { namespace, indexes } of inPlace) {
    const entry = manifest.collections.find((c) => `${c.db}.${c.collection}` === namespace);
    if (!entry) continue;
    const check = await checkRestoredCollection(client, entry, scratchOf(entry), indexes);
    result.collections.push(check);
    if (check.problem) {
      result.reason = `restored data differs from the manifest of ${manifest.name}: ${namespace}: ${check.problem}`;
    }
  }
  result.verifyDurationMs += Date.now() - started;
}

/** As the restore engine decides (`isStaged`): time-series and system collections have no temporary copy. */
function writtenInPlace(ns: { type: string; target: string }): boolean {
  const collection = ns.target.slice(ns.target.indexOf(".") + 1);
  return ns.type === "timeseries" || collection.startsWith("system.");
}

async function dropScratch(client: MongoClient, result: RestoreTestResult): Promise<void> {
  try {
    for (const db of result.scratchDatabases) await client.db(db).dropDatabase();
  } catch (error) {
    result.scratchDropped = false;
    result.ok = false;
    const detail = `could not drop scratch databases ${result.scratchDatabases.join(", ")}: ${(error as Error).message}`;
    result.reason = result.reason ? `${result.reason}; ${detail}` : detail;
  }
}
