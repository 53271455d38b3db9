import type { ArchiveFormat } from "../archive/events";
import { TargetNotEmptyError } from "./plan";
import type { RestoreStop } from "./resume";

/**
 * What a restore did, namespace by namespace, so that after a failure the operator knows exactly what is
 * in the target: `completed` (replaced by the backup's collection: every document and index), `untouched`
 * (exactly as it was: the restore wrote only into a temporary collection, dropped since), `partial` (views
 * and time-series collections, written in place: something was written) or `unknown` (the server stopped
 * answering while the restored copy was being renamed into place: look at the target).
 */
export type NamespaceStatus = "completed" | "partial" | "untouched" | "unknown";

export interface NamespaceReport {
  /** Namespace in the archive. */
  source: string;
  /** Namespace written (after --nsFrom/--nsTo). */
  target: string;
  status: NamespaceStatus;
  /**
   * Documents the server accepted (in a dry run: that would be written). For an `untouched` namespace they
   * went to its temporary collection, which the failed restore dropped.
   */
  documents: number;
  bytes: number;
  /** Names of the indexes built (in a dry run: to build), `_id_` excepted. */
  indexes: string[];
  /** "collection", "view" or "timeseries". */
  type: string;
  error?: string;
}

export interface RestoreFailure {
  message: string;
  /** The namespace or archive file where the problem appeared, when known. */
  where?: string;
  /** The server refused the credentials (a caller holding a rotated secret may read it again and retry). */
  authenticationFailed?: boolean;
}

export interface RestoreReport {
  ok: boolean;
  dryRun: boolean;
  format?: ArchiveFormat;
  namespaces: NamespaceReport[];
  /** Namespaces of the archive not restored, with the reason (not selected, system namespace). */
  skipped: { namespace: string; reason: string }[];
  /** Target namespaces that already hold data (the restore refuses them without --drop). */
  conflicts: string[];
  /**
   * Temporary collections a failed restore could not drop (the server had gone; one whose create never
   * reached the server is named too): the next restore into the same database drops them once they are a
   * day old, or drop them by hand.
   */
  leftovers?: string[];
  totals: { namespaces: number; documents: number; bytes: number };
  durationMs: number;
  failure?: RestoreFailure;
  /** The restore stopped at a checkpoint (`stopAt`), everything before it written; it goes on from there. */
  stopped?: RestoreStop;
}

function list(names: string[]): string {
  return names.length === 0 ? "none" : names.join(", ");
}

/** Human-readable summary for the terminal and for logs. */
export function formatRestoreReport(report: RestoreReport): string {
  const lines: string[] = [];
  const verb = report.dryRun ? "would restore" : "restored";
  for (const ns of report.namespaces) {
    const renamed = ns.source === ns.target ? ns.target : `${ns.source} -> ${ns.target}`;
    const state = report.dryRun ? "" : ` [${ns.status}]`;
    const indexes = ns.indexes.length > 0 ? `, indexes: ${ns.indexes.join(", ")}` : "";
    const discarded = !report.dryRun && ns.status === "untouched" && ns.documents > 0;
    const counted = discarded
      ? `${ns.documents} documents written to a temporary copy, dropped`
      : `${ns.documents} documents, ${ns.bytes} bytes`;
    lines.push(`  ${renamed}${state}: ${counted}${indexes}`);
  }
  for (const skip of report.skipped) lines.push(`  ${skip.namespace} [skipped]: ${skip.reason}`);
  const { totals } = report;
  lines.push(
    `${verb} ${totals.documents} documents (${totals.bytes} bytes) in ${totals.namespaces} namespaces` +
      ` in ${(report.durationMs / 1000).toFixed(1)} s`,
  );
  // The refusal's own message lists the same namespaces again: each is listed once.
  const refusedForConflicts =
    report.conflicts.length > 0 &&
    report.failure?.message === new TargetNotEmptyError(report.conflicts).message;
  if (report.conflicts.length > 0) {
    lines.push(
      `target namespaces already holding data (use --drop to replace them): ${report.conflicts.join(", ")}`,
    );
  }
  if (report.failure) {
    const where = report.failure.where ? ` (at ${report.failure.where})` : "";
    const message = refusedForConflicts
      ? `the target namespaces above already hold data${report.dryRun ? "" : ": nothing was written"}`
      : report.failure.message;
    lines.push(`FAILED${where}: ${message}`);
    if (!report.dryRun) {
      const by = (status: NamespaceStatus) =>
        report.namespaces.filter((ns) => ns.status === status).map((ns) => ns.target);
      lines.push(`  completed: ${list(by("completed"))}`);
      lines.push(`  partial:   ${list(by("partial"))}`);
      lines.push(`  untouched: ${list(by("untouched"))}`);
      const unknown = by("unknown");
      if (unknown.length > 0) lines.push(`  unknown (the server stopped answering): ${list(unknown)}`);
      if (report.leftovers?.length) {
        lines.push(`  temporary collections left behind (drop them): ${list(report.leftovers)}`);
      }
    }
  }
  return lines.join("\n");
}
