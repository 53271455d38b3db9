import type { ArchiveFormat } from "../archive/events";

/**
 * What a restore did, namespace by namespace, so that after a failure the operator knows exactly what is
 * in the target: `completed` (every document and index), `partial` (something was written: drop, create
 * or some documents) or `untouched` (nothing written).
 */
export type NamespaceStatus = "completed" | "partial" | "untouched";

export interface NamespaceReport {
  /** Namespace in the archive. */
  source: string;
  /** Namespace written (after --nsFrom/--nsTo). */
  target: string;
  status: NamespaceStatus;
  /** Documents written (in a dry run: that would be written). */
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
  totals: { namespaces: number; documents: number; bytes: number };
  durationMs: number;
  failure?: RestoreFailure;
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
    lines.push(`  ${renamed}${state}: ${ns.documents} documents, ${ns.bytes} bytes${indexes}`);
  }
  for (const skip of report.skipped) lines.push(`  ${skip.namespace} [skipped]: ${skip.reason}`);
  const { totals } = report;
  lines.push(
    `${verb} ${totals.documents} documents (${totals.bytes} bytes) in ${totals.namespaces} namespaces` +
      ` in ${(report.durationMs / 1000).toFixed(1)} s`,
  );
  if (report.conflicts.length > 0) {
    lines.push(
      `target namespaces already holding data (use --drop to replace them): ${report.conflicts.join(", ")}`,
    );
  }
  if (report.failure) {
    const where = report.failure.where ? ` (at ${report.failure.where})` : "";
    lines.push(`FAILED${where}: ${report.failure.message}`);
    if (!report.dryRun) {
      const by = (status: NamespaceStatus) =>
        report.namespaces.filter((ns) => ns.status === status).map((ns) => ns.target);
      lines.push(`  completed: ${list(by("completed"))}`);
      lines.push(`  partial:   ${list(by("partial"))}`);
      lines.push(`  untouched: ${list(by("untouched"))}`);
    }
  }
  return lines.join("\n");
}
