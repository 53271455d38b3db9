import type { MongoClient } from "mongodb";
import { ArchiveError, type ArchiveEvent, type Checkpoint, type CollectionMetadata } from "../archive/events";
import {
  buildIndexes,
  createCollection,
  dropNamespace,
  holdsData,
  indexesToBuild,
  CollectionSetupError,
} from "./collections";
import { Deferred, Slots } from "./flow-control";
import { isAuthenticationError } from "../mongo/connect";
import { redactSecrets } from "../mongo/uri";
import { formatNamespace, NamespaceSelection, type Namespace } from "./namespaces";
import { concerns, isStaged, settleStaged, untouched, whereOf, type NamespaceState } from "./namespace-state";
import { decideNamespace, findConflicts, PlanCheck, RestorePlanError, TargetNotEmptyError } from "./plan";
import { insertRawDocuments, InsertError } from "./raw-insert";
import type { NamespaceReport, RestoreFailure, RestoreReport } from "./report";
import { checkResumedStaging, inProgressOf, resumedState, type RestoreStop } from "./resume";
import { dropStaleStaging, replaceWithStaged, StagingNames } from "./staging";

export interface RestoreOptions {
  selection?: NamespaceSelection;
  /** Replace each namespace being restored (and only those), even when it holds data. */
  drop?: boolean;
  /** Read and check the whole archive, report what would be written, write nothing. */
  dryRun?: boolean;
  /**
   * Source namespaces known before reading (from a manifest or a planning pass): they are checked (targets
   * holding data, refused or colliding targets) before anything is written, so a refusal leaves every
   * namespace untouched.
   */
  expectedNamespaces?: readonly Namespace[];
  /** Insert commands in flight at once, across collections (default 4). */
  parallelism?: number;
  /** Upper bound of one insert command's documents, in bytes (default 8 MiB) and count (default 10,000). */
  batchBytes?: number;
  batchDocuments?: number;
  /**
   * A last check of a complete temporary collection before it replaces its target (e.g. against the
   * manifest); a returned text fails the namespace and leaves its target as it was.
   */
  checkStaged?: (
    source: Namespace,
    staged: Namespace,
    report: NamespaceReport,
  ) => Promise<string | undefined>;
  /** Temporary collections of runs started longer ago than this are dropped (default 24 hours). */
  staleStagingMs?: number;
  onProgress?: (progress: RestoreProgress) => void;
  /**
   * Asked at each checkpoint of the archive (events read with `checkpointEvents`): true stops the restore
   * there once everything before it is written, its report saying where (`stopped`).
   */
  stopAt?: (reached: { index: number; checkpoint: Checkpoint }) => boolean;
  /** The events start at the checkpoint where an earlier restore stopped (`stopped` of its report). */
  resume?: RestoreStop;
}

export interface RestoreProgress {
  documents: number;
  bytes: number;
  completedNamespaces: number;
}

/**
 * Restores a stream of archive events into the server: each collection is created with its options in a
 * temporary collection of the target's database, its documents inserted as their exact bytes in batches
 * (several collections at once), its indexes built and its count checked, and only then is it renamed over
 * the target. Never throws for a problem with the archive or the target: the report says what failed, where,
 * and the state every namespace was left in.
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
  const names = new StagingNames(started);
  const states = new Map<string, NamespaceState>();
  const refused: NamespaceReport[] = [];
  const skipped: RestoreReport["skipped"] = [];
  const finishing: Promise<void>[] = [];
  const progress: RestoreProgress = { documents: 0, bytes: 0, completedNamespaces: 0 };
  const conflicts = new Set<string>();
  const plan = new PlanCheck(selection);
  const ignored = new Set<string>();
  const cleaned = new Map<string, Promise<string[]>>();
  let failure: RestoreFailure | undefined;
  if (!dryRun && !client) throw new Error("a restore that writes needs a connected client");

  const fail = (error: unknown) => {
    if (failure) return;
    if (error instanceof TargetNotEmptyError) for (const ns of error.namespaces) conflicts.add(ns);
    const message = redactSecrets(error instanceof Error ? error.message : String(error));
    failure = { message, where: whereOf(error) };
    if (isAuthenticationError(error)) failure.authenticationFailed = true;
  };

  // A crashed run's temporary collections are dropped once per target database, before the first write.
  const cleanStale = (db: string) => {
    let done = cleaned.get(db);
    if (!done) {
      done = dropStaleStaging(client!, db, options.staleStagingMs);
      cleaned.set(db, done);
    }
    return done;
  };

  const prepare = async (state: NamespaceState, metadata: CollectionMetadata): Promise<void> => {
    if (!client) return;
    if (dryRun) {
      if (!options.drop && !options.expectedNamespaces && (await holdsData(client, state.target))) {
        conflicts.add(formatNamespace(state.target));
      }
      return;
    }
    if (!options.drop && !options.expectedNamespaces && (await holdsData(client, state.target))) {
      throw new TargetNotEmptyError([formatNamespace(state.target)]);
    }
    if (state.staged) {
      await cleanStale(state.target.db);
      state.stagedCreated = true;
      await createCollection(client, state.written, metadata, state.report.target);
      return;
    }
    if (options.drop) {
      state.report.status = "partial";
      await dropNamespace(client, state.target);
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
        const written = await insertRawDocuments(
          client.db(state.written.db),
          state.written.collection,
          batch,
          {
            bypassDocumentValidation: state.hasValidator,
            shownAs: state.report.target,
            duplicatesAreWritten: state.duplicatesAreWritten,
          },
        ).catch((error: unknown) => {
          // Documents the server accepted before refusing others are counted, not lost from the report.
          if (error instanceof InsertError) state.report.documents += error.written;
          throw error;
        });
        state.report.documents += written;
        state.report.bytes += bytes;
        progress.documents += written;
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

  /** The complete temporary collection checked (count, then the caller's check), then renamed over the target. */
  const replaceTarget = async (state: NamespaceState): Promise<void> => {
    const where = formatNamespace(state.target);
    const counted = await client!.db(state.written.db).command({ count: state.written.collection });
    if (Number(counted.n) !== state.received) {
      throw new CollectionSetupError(
        where,
        `the restored copy holds ${String(counted.n)} documents, the archive ${state.received}`,
      );
    }
    const problem = await options.checkStaged?.(state.source, state.written, state.report);
    if (problem) throw new CollectionSetupError(where, problem);
    // Without --drop the target was empty when checked; it must still be, or it is not ours to replace.
    if (!options.drop && (await holdsData(client!, state.target))) throw new TargetNotEmptyError([where]);
    state.renameSent = true;
    await replaceWithStaged(client!, state.written, state.target, names, (aside) => (state.aside = aside));
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
      if (!dryRun && client) {
        await buildIndexes(client, state.written, state.indexes, state.report.target);
        if (state.staged) await replaceTarget(state);
      }
      if (!dryRun) state.report.status = "completed";
      progress.completedNamespaces += 1;
      options.onProgress?.({ ...progress });
    })();
    completion.catch(fail);
    finishing.push(completion);
  };

  if (options.expectedNamespaces) {
    const upFront = PlanCheck.of(options.expectedNamespaces, selection);
    if (upFront.problems.length > 0 && !dryRun) fail(new RestorePlanError(upFront.problems));
    if (client && !options.drop && !failure) {
      try {
        for (const ns of await findConflicts(client, options.expectedNamespaces, selection))
          conflicts.add(ns);
      } catch (error) {
        fail(error);
      }
      if (conflicts.size > 0 && !dryRun) fail(new TargetNotEmptyError([...conflicts]));
    }
  }

  const resumed = options.resume?.inProgress;
  if (resumed && client && !dryRun) {
    // Taken over from the step before: its temporary collection goes on filling from the checkpoint.
    const state = resumedState(resumed);
    plan.add(state.source);
    state.ready = checkResumedStaging(client, state, resumed.documents).then((duplicates) => {
      state.duplicatesAreWritten = duplicates;
    });
    state.ready.catch(fail);
    states.set(`${state.source.db}\u0000${state.source.collection}`, state);
  }
  let stopped: RestoreStop | undefined;
  const stopHere = async (index: number): Promise<boolean> => {
    for (const state of states.values()) await flush(state);
    await Promise.allSettled([
      ...[...states.values()].flatMap((state) => [state.ready, ...state.inFlight]),
      ...finishing,
    ]);
    if (failure) return false;
    // The one collection whose end the reader has not reached (ours holds one .bson at a time).
    const open = [...states.values()].filter(
      (state) => state.verified === undefined && state.report.type !== "view", // a view is whole once created
    );
    if (open.some((state) => !state.staged)) return false; // written in place: it cannot be taken over
    stopped = { checkpoint: index, ...(open[0] ? { inProgress: inProgressOf(open[0]) } : {}) };
    return true;
  };

  try {
    if (!failure || dryRun) {
      for await (const event of events) {
        settleVerification();
        if (failure && !dryRun) break;
        if (event.type === "manifest") continue;
        if (event.type === "checkpoint") {
          if (!dryRun && options.stopAt?.(event) && (await stopHere(event.index))) break;
          continue;
        }
        const key = `${event.db}\u0000${event.collection}`;
        const source = { db: event.db, collection: event.collection };
        if (event.type === "collection-metadata") {
          const { decision, problem } = plan.add(source);
          if (problem) {
            ignored.add(key);
            if (decision.kind === "refuse") refused.push(untouched(source, selection, problem));
            // A dry run goes on, to name every problem the real restore would meet.
            if (!dryRun) throw new RestorePlanError([problem]);
            continue;
          }
          if (decision.kind !== "restore") {
            skipped.push({ namespace: formatNamespace(source), reason: decision.reason });
            continue;
          }
          const { target } = decision;
          const indexes = indexesToBuild(event.metadata);
          const staged = isStaged(event.metadata, target);
          const state: NamespaceState = {
            source,
            target,
            written: staged ? names.temporary(target) : target,
            staged,
            stagedCreated: false,
            renameSent: false,
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
        // In a dry run, the events of a namespace already refused (or met twice) are not counted again.
        if (ignored.has(key)) continue;
        const state = states.get(key);
        if (!state) {
          if (skipped.some((skip) => skip.namespace === formatNamespace(source))) continue;
          // Resumed inside a namespace that the step before did not restore (a system collection).
          if (options.resume && decideNamespace(source, selection).kind !== "restore") continue;
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
  if (!failure && !stopped) {
    const unfinished = [...states.values()].filter((state) => state.report.status !== "completed");
    if (!dryRun && unfinished.length > 0) {
      fail(new ArchiveError(`the archive ended before the end of ${unfinished[0]!.report.source}`));
    }
  }
  if (dryRun && !failure) {
    const upFront = options.expectedNamespaces
      ? PlanCheck.of(options.expectedNamespaces, selection)
      : undefined;
    const problems = [...new Set([...(upFront?.problems ?? []), ...plan.problems])];
    if (problems.length > 0) fail(new RestorePlanError(problems));
    else if (conflicts.size > 0) fail(new TargetNotEmptyError([...conflicts]));
  }
  const leftovers = failure && !dryRun && client ? await settleStaged(client, [...states.values()]) : [];
  if (failure && !dryRun) {
    for (const state of states.values()) {
      if (state.report.status === "completed") continue;
      const here = failure.where === state.report.target || failure.where === state.report.source;
      if (state.report.status !== "untouched" || here) {
        // A note from settling (where a moved-aside original is) comes after the cause.
        state.report.error = state.report.error
          ? `${failure.message}; ${state.report.error}`
          : failure.message;
      }
    }
  }

  const namespaces = [...states.values()].map((state) => state.report);
  namespaces.push(...refused);
  for (const source of options.expectedNamespaces ?? []) {
    const name = formatNamespace(source);
    if (skipped.some((skip) => skip.namespace === name)) continue;
    if (namespaces.some((ns) => ns.source === name)) continue;
    const decision = decideNamespace(source, selection);
    if (decision.kind === "skip") continue;
    // Never reached: the archive failed before it (or lacks it, which the reader reports), or refused.
    namespaces.push(untouched(source, selection, decision.kind === "refuse" ? decision.reason : undefined));
  }
  return {
    ok: !failure,
    dryRun,
    namespaces,
    skipped,
    conflicts: [...conflicts],
    ...(leftovers.length > 0 ? { leftovers } : {}),
    totals: {
      namespaces: namespaces.length,
      documents: namespaces.reduce((sum, ns) => sum + ns.documents, 0),
      bytes: namespaces.reduce((sum, ns) => sum + ns.bytes, 0),
    },
    durationMs: Date.now() - started,
    failure,
    ...(stopped && !failure ? { stopped } : {}),
  };
}
