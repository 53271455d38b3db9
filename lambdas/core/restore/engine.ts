import type { MongoClient } from "mongodb";
import type { DocumentRun } from "../archive/document-run";
import { ArchiveError, type ArchiveEvent, type CollectionMetadata } from "../archive/events";
import { unescapeCollectionName } from "../archive/names";
import {
  buildIndexes,
  createCollection,
  dropNamespace,
  holdsData,
  indexesToBuild,
  CollectionSetupError,
} from "./collections";
import { isAuthenticationError } from "../mongo/connect";
import { formatNamespace, NamespaceSelection, SYSTEM_DATABASES, type Namespace } from "./namespaces";
import { insertRawDocuments, InsertError } from "./raw-insert";
import type { NamespaceReport, RestoreFailure, RestoreReport } from "./report";

export interface RestoreOptions {
  selection?: NamespaceSelection;
  /** Drop each namespace being restored (and only those) before writing it. */
  drop?: boolean;
  /** Read and check the whole archive, report what would be written, write nothing. */
  dryRun?: boolean;
  /**
   * Source namespaces known before reading (from a manifest or a planning pass): their targets are checked
   * for data before anything is written, so a refusal leaves every namespace untouched.
   */
  expectedNamespaces?: readonly Namespace[];
  /** Insert commands in flight at once, across collections (default 4). */
  parallelism?: number;
  /** Upper bound of one insert command's documents, in bytes (default 8 MiB) and count (default 10,000). */
  batchBytes?: number;
  batchDocuments?: number;
  onProgress?: (progress: RestoreProgress) => void;
}

export interface RestoreProgress {
  documents: number;
  bytes: number;
  completedNamespaces: number;
}

/** Target namespaces that already hold data: the restore refuses to mix the backup with them. */
export class TargetNotEmptyError extends Error {
  override name = "TargetNotEmptyError";
  constructor(readonly namespaces: string[]) {
    super(
      `target namespaces already hold data: ${namespaces.join(", ")} ` +
        "(restore into empty namespaces, or pass --drop to replace exactly the namespaces being restored)",
    );
  }
}

interface NamespaceState {
  source: Namespace;
  target: Namespace;
  report: NamespaceReport;
  ready: Promise<void>;
  pending: DocumentRun[];
  pendingBytes: number;
  pendingDocuments: number;
  inFlight: Set<Promise<void>>;
  received: number;
  indexes: ReturnType<typeof indexesToBuild>;
  hasValidator: boolean;
  /** Settles once the reader has moved past the namespace's end without error (its checks passed). */
  verified?: Deferred;
}

/** A promise settled from outside: the reader's next step decides whether a finished namespace is good. */
class Deferred {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;
  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.promise.catch(() => undefined);
  }
}

/** Counting semaphore: the archive reader waits here, which is what bounds memory. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) {
    this.free = size;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

function skipReason(source: Namespace): string | undefined {
  if (SYSTEM_DATABASES.has(source.db)) return `database ${source.db} belongs to the server`;
  if (source.collection.startsWith("system.")) return "system collection (the server maintains it)";
  return undefined;
}

/** True when an archive error is about this namespace (names it, or names one of its files). */
function concerns(error: unknown, source: Namespace): boolean {
  if (!(error instanceof ArchiveError)) return true;
  if (error.namespace !== undefined) return error.namespace === formatNamespace(source);
  if (error.file === undefined) return false;
  const parts = error.file.split("/");
  const match = /^(.+)\.(bson|metadata\.json)(\.gz)?$/.exec(parts[parts.length - 1] ?? "");
  if (!match) return false;
  return parts[parts.length - 2] === source.db && unescapeCollectionName(match[1]!) === source.collection;
}

function whereOf(error: unknown): string | undefined {
  if (error instanceof ArchiveError) return error.namespace ?? error.file;
  if (error instanceof InsertError || error instanceof CollectionSetupError) return error.namespace;
  return undefined;
}

/** The namespaces of `sources` whose target would be written, checked for existing data. */
export async function findConflicts(
  client: MongoClient,
  sources: readonly Namespace[],
  selection: NamespaceSelection,
): Promise<string[]> {
  const conflicts: string[] = [];
  for (const source of sources) {
    const target = skipReason(source) ? undefined : selection.target(source);
    if (target && (await holdsData(client, target))) conflicts.push(formatNamespace(target));
  }
  return conflicts;
}

/**
 * Restores a stream of archive events into the server: collections created with their options before their
 * documents, documents inserted as their exact bytes in batches (several collections at once), indexes built
 * once a collection's documents are all in. Never throws for a problem with the archive or the target: the
 * report says what failed, where, and the state every namespace was left in.
 */
export async function restoreEvents(
  events: AsyncIterable<ArchiveEvent>,
  client: MongoClient | undefined,
  options: RestoreOptions = {},
): Promise<RestoreReport> {
  const started = Date.now();
  const selection = options.selection ?? new NamespaceSelection();
  const dryRun = options.dryRun ?? false;
  const batchBytes = options.batchBytes ?? 8 * 1024 * 1024;
  const batchDocuments = options.batchDocuments ?? 10_000;
  // Interleaved archives (mongodump --archive) fill many batches at once: their sum is bounded too.
  const maxPendingBytes = 2 * batchBytes;
  let pendingBytes = 0;
  const slots = new Slots(options.parallelism ?? 4);
  const states = new Map<string, NamespaceState>();
  const skipped: RestoreReport["skipped"] = [];
  const finishing: Promise<void>[] = [];
  const progress: RestoreProgress = { documents: 0, bytes: 0, completedNamespaces: 0 };
  let conflicts: string[] = [];
  let failure: RestoreFailure | undefined;
  if (!dryRun && !client) throw new Error("a restore that writes needs a connected client");

  const fail = (error: unknown) => {
    if (failure) return;
    if (error instanceof TargetNotEmptyError) conflicts = error.namespaces;
    failure = { message: error instanceof Error ? error.message : String(error), where: whereOf(error) };
    if (isAuthenticationError(error)) failure.authenticationFailed = true;
  };

  const prepare = async (state: NamespaceState, metadata: CollectionMetadata): Promise<void> => {
    if (!client) return;
    if (dryRun) {
      if (!options.drop && (await holdsData(client, state.target))) {
        conflicts.push(formatNamespace(state.target));
      }
      return;
    }
    if (options.drop) {
      state.report.status = "partial";
      await dropNamespace(client, state.target);
    } else if (!options.expectedNamespaces && (await holdsData(client, state.target))) {
      throw new TargetNotEmptyError([formatNamespace(state.target)]);
    }
    state.report.status = "partial";
    await createCollection(client, state.target, metadata);
  };

  const flush = async (state: NamespaceState): Promise<void> => {
    if (state.pending.length === 0) return;
    const batch = state.pending;
    const bytes = state.pendingBytes;
    const documents = state.pendingDocuments;
    state.pending = [];
    state.pendingBytes = 0;
    state.pendingDocuments = 0;
    pendingBytes -= bytes;
    if (dryRun || !client) {
      state.report.documents += documents;
      state.report.bytes += bytes;
      return;
    }
    await slots.acquire();
    const write = (async () => {
      try {
        await state.ready;
        await insertRawDocuments(client.db(state.target.db), state.target.collection, batch, {
          bypassDocumentValidation: state.hasValidator,
        });
        state.report.documents += documents;
        state.report.bytes += bytes;
        progress.documents += documents;
        progress.bytes += bytes;
        options.onProgress?.({ ...progress });
      } finally {
        slots.release();
      }
    })();
    state.inFlight.add(write);
    write.then(
      () => state.inFlight.delete(write),
      (error: unknown) => fail(error),
    );
  };

  // The reader checks a file (size, SHA-256 against the manifest) when it resumes after the file's last
  // event, before reading on: a namespace is complete once the reader has moved past it, or once the reader
  // fails on something that is not that namespace's own file.
  let unverified: NamespaceState[] = [];
  const settleVerification = (error?: unknown) => {
    for (const state of unverified) {
      if (error !== undefined && concerns(error, state.source)) state.verified?.reject(error);
      else state.verified?.resolve();
    }
    unverified = [];
  };

  const finish = async (state: NamespaceState, documentCount: number): Promise<void> => {
    await flush(state);
    const verified = new Deferred();
    state.verified = verified;
    unverified.push(state);
    const completion = (async () => {
      await state.ready;
      await Promise.all(state.inFlight);
      await verified.promise;
      if (documentCount !== state.received) {
        throw new ArchiveError(
          `the archive announces ${documentCount} documents but holds ${state.received}`,
          { namespace: formatNamespace(state.source) },
        );
      }
      if (!dryRun && client) await buildIndexes(client, state.target, state.indexes);
      if (!dryRun) state.report.status = "completed";
      progress.completedNamespaces += 1;
      options.onProgress?.({ ...progress });
    })();
    completion.catch(fail);
    finishing.push(completion);
  };

  if (options.expectedNamespaces && client) {
    try {
      conflicts = options.drop ? [] : await findConflicts(client, options.expectedNamespaces, selection);
    } catch (error) {
      fail(error);
    }
    if (conflicts.length > 0 && !dryRun) fail(new TargetNotEmptyError(conflicts));
  }

  try {
    if (!failure || dryRun) {
      for await (const event of events) {
        settleVerification();
        if (failure && !dryRun) break;
        if (event.type === "manifest") continue;
        const key = `${event.db}\u0000${event.collection}`;
        const source = { db: event.db, collection: event.collection };
        if (event.type === "collection-metadata") {
          const reason = skipReason(source);
          const target = reason ? undefined : selection.target(source);
          if (!target) {
            skipped.push({ namespace: formatNamespace(source), reason: reason ?? "not selected" });
            continue;
          }
          const indexes = indexesToBuild(event.metadata);
          const state: NamespaceState = {
            source,
            target,
            report: {
              source: formatNamespace(source),
              target: formatNamespace(target),
              status: "untouched",
              documents: 0,
              bytes: 0,
              indexes: indexes.map((index) => String(index.name)),
              type: event.metadata.type ?? "collection",
            },
            ready: Promise.resolve(),
            pending: [],
            pendingBytes: 0,
            pendingDocuments: 0,
            inFlight: new Set(),
            received: 0,
            indexes,
            hasValidator: event.metadata.options.validator !== undefined,
          };
          state.ready = prepare(state, event.metadata);
          state.ready.catch(fail);
          states.set(key, state);
          continue;
        }
        const state = states.get(key);
        if (!state) {
          if (skipped.some((skip) => skip.namespace === formatNamespace(source))) continue;
          throw new ArchiveError("documents appear before the collection's metadata", {
            namespace: formatNamespace(source),
          });
        }
        if (event.type === "documents") {
          state.received += event.documents.count;
          // Runs go to the server whole (never copied document by document); one batch takes runs while
          // they fit its byte and document bounds.
          for (const run of event.documents.split(batchDocuments, batchBytes)) {
            const overflows =
              state.pendingBytes + run.byteLength > batchBytes ||
              state.pendingDocuments + run.count > batchDocuments;
            if (state.pending.length > 0 && overflows) await flush(state);
            state.pending.push(run);
            state.pendingBytes += run.byteLength;
            state.pendingDocuments += run.count;
            pendingBytes += run.byteLength;
            if (state.pendingBytes >= batchBytes || state.pendingDocuments >= batchDocuments) {
              await flush(state);
            }
          }
          if (pendingBytes >= maxPendingBytes) {
            const fullest = [...states.values()].reduce((a, b) => (b.pendingBytes > a.pendingBytes ? b : a));
            await flush(fullest);
          }
        } else {
          await finish(state, event.documentCount);
        }
      }
      if (!failure) settleVerification();
    }
  } catch (error) {
    fail(error);
    settleVerification(error);
  }
  // Stopped for a failure elsewhere (an insert, another namespace): a namespace the reader never moved past
  // cannot be called complete.
  settleVerification(new Error(failure?.message ?? "restore stopped"));
  const inFlight = [...states.values()].flatMap((state) => [state.ready, ...state.inFlight]);
  await Promise.allSettled([...inFlight, ...finishing]);
  if (!failure) {
    const unfinished = [...states.values()].filter((state) => state.report.status !== "completed");
    if (!dryRun && unfinished.length > 0) {
      fail(new ArchiveError(`the archive ended before the end of ${unfinished[0]!.report.source}`));
    }
  }
  if (dryRun && conflicts.length > 0 && !failure) fail(new TargetNotEmptyError(conflicts));
  if (failure && dryRun === false) {
    for (const state of states.values()) {
      if (state.report.status === "completed") continue;
      if (state.report.status === "partial") state.report.error = failure.message;
    }
  }

  const namespaces = [...states.values()].map((state) => state.report);
  for (const source of options.expectedNamespaces ?? []) {
    const name = formatNamespace(source);
    if (skipped.some((skip) => skip.namespace === name)) continue;
    if (namespaces.some((ns) => ns.source === name)) continue;
    const target = skipReason(source) ? undefined : selection.target(source);
    if (!target) continue;
    // Never reached: the archive failed before it (or lacks it, which the reader reports).
    namespaces.push({
      source: name,
      target: formatNamespace(target),
      status: "untouched",
      documents: 0,
      bytes: 0,
      indexes: [],
      type: "collection",
    });
  }
  return {
    ok: !failure,
    dryRun,
    namespaces,
    skipped,
    conflicts,
    totals: {
      namespaces: namespaces.length,
      documents: namespaces.reduce((sum, ns) => sum + ns.documents, 0),
      bytes: namespaces.reduce((sum, ns) => sum + ns.bytes, 0),
    },
    durationMs: Date.now() - started,
    failure,
  };
}
