import type { MongoClient } from "mongodb";
import type { DocumentRun } from "../archive/document-run";
import { ArchiveError, type CollectionMetadata } from "../archive/events";
import { unescapeCollectionName } from "../archive/names";
import { CollectionSetupError, type indexesToBuild } from "./collections";
import type { Deferred } from "./flow-control";
import { formatNamespace, type Namespace, type NamespaceSelection } from "./namespaces";
import { InsertError } from "./raw-insert";
import type { NamespaceReport } from "./report";
import { collectionExists, dropStaged, putBackAside } from "./staging";

/** The restore engine's bookkeeping for one namespace of the archive. */
export interface NamespaceState {
  source: Namespace;
  target: Namespace;
  /** Where the documents go: a temporary collection renamed over the target at the end, or the target. */
  written: Namespace;
  staged: boolean;
  /** The temporary collection may exist (its create was sent). */
  stagedCreated: boolean;
  /** The rename over the target was sent: if it did not answer, whether it happened must be looked up. */
  renameSent: boolean;
  /** Where the fallback swap moved the original for a moment (servers without dropTarget). */
  aside?: Namespace;
  report: NamespaceReport;
  ready: Promise<void>;
  pending: DocumentRun[];
  pendingBytes: number;
  pendingDocuments: number;
  inFlight: Set<Promise<void>>;
  received: number;
  indexes: ReturnType<typeof indexesToBuild>;
  hasValidator: boolean;
  /** Resumed after a crash past the checkpoint: documents already in count as written (see resume.ts). */
  duplicatesAreWritten?: boolean;
  /** Settles once the reader has moved past the namespace's end without error (its checks passed). */
  verified?: Deferred;
}

/**
 * Views hold no documents, MongoDB renames neither views nor time-series collections, and a rename into a
 * system collection (system.js) is refused ("Invalid target namespace"): those are written in place (dropped
 * first with --drop), as mongorestore writes everything. Every other collection goes through a temporary one.
 */
export function isStaged(metadata: CollectionMetadata, target: Namespace): boolean {
  return (
    metadata.type !== "view" && metadata.type !== "timeseries" && !target.collection.startsWith("system.")
  );
}

/** True when an archive error is about this namespace (names it, or names one of its files). */
export function concerns(error: unknown, source: Namespace): boolean {
  if (!(error instanceof ArchiveError)) return true;
  if (error.namespace !== undefined) return error.namespace === formatNamespace(source);
  if (error.file === undefined) return false;
  const parts = error.file.split("/");
  const match = /^(.+)\.(bson|metadata\.json)(\.gz)?$/.exec(parts[parts.length - 1] ?? "");
  if (!match) return false;
  return parts[parts.length - 2] === source.db && unescapeCollectionName(match[1]!) === source.collection;
}

export function whereOf(error: unknown): string | undefined {
  if (error instanceof ArchiveError) return error.namespace ?? error.file;
  if (error instanceof InsertError || error instanceof CollectionSetupError) return error.namespace;
  return undefined;
}

export function untouched(source: Namespace, selection: NamespaceSelection, error?: string): NamespaceReport {
  let target = formatNamespace(source);
  try {
    target = formatNamespace(selection.target(source) ?? source);
  } catch {
    // A rename that gives no namespace was reported by the selection already.
  }
  return {
    source: formatNamespace(source),
    target,
    status: "untouched",
    documents: 0,
    bytes: 0,
    indexes: [],
    type: "collection",
    ...(error ? { error } : {}),
  };
}

/**
 * After a failure: a rename that got no answer is looked up (gone temporary copy: it happened; an original
 * moved aside by the fallback swap is put back), then this run's temporary collections are dropped. Returns
 * what it could not drop (the next run drops temporary copies; a moved-aside original is only named).
 */
export async function settleStaged(client: MongoClient, states: NamespaceState[]): Promise<string[]> {
  const open = states.filter(
    (state) => state.staged && state.stagedCreated && state.report.status !== "completed",
  );
  const kept: string[] = [];
  for (const state of open.filter((s) => s.renameSent)) {
    try {
      if (!(await collectionExists(client, state.written))) {
        state.report.status = "completed";
        if (state.aside && (await collectionExists(client, state.aside)))
          kept.push(formatNamespace(state.aside));
      } else if (state.aside && !(await putBackAside(client, state.aside, state.target))) {
        state.report.status = "unknown";
      }
    } catch {
      state.report.status = "unknown";
    }
    if (state.report.status === "unknown" && state.aside) {
      state.report.error = `the original may be kept as ${formatNamespace(state.aside)}: look before running again`;
    }
  }
  const toDrop = open.filter((state) => state.report.status === "untouched").map((state) => state.written);
  return [...(await dropStaged(client, toDrop)), ...kept];
}
