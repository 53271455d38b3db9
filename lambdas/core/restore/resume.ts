import { BSON, type Document, type MongoClient } from "mongodb";
import { CollectionSetupError } from "./collections";
import { formatNamespace, type Namespace } from "./namespaces";
import type { NamespaceState } from "./namespace-state";

const { EJSON } = BSON;

/**
 * The collection a restore stopped inside of, at a checkpoint within its .bson: its temporary collection
 * holds exactly the documents before the checkpoint, and the next step goes on inserting there. JSON-safe:
 * it travels in a Step Functions state (index specs as canonical Extended JSON, so their types are kept).
 */
export interface StagedInProgress {
  source: Namespace;
  target: Namespace;
  /** The temporary collection (`atlas_ops_restore_<run>_<n>`). */
  written: Namespace;
  /** Documents and bytes inserted before the checkpoint (the checkpoint's `documents`). */
  documents: number;
  bytes: number;
  /** The indexes to build once complete, canonical Extended JSON. */
  indexes: string;
  type: string;
  hasValidator: boolean;
}

/** Where a restore stopped: the checkpoint and, when inside a collection, that collection. */
export interface RestoreStop {
  checkpoint: number;
  inProgress?: StagedInProgress;
}

export function inProgressOf(state: NamespaceState): StagedInProgress {
  return {
    source: state.source,
    target: state.target,
    written: state.written,
    documents: state.received,
    bytes: state.report.bytes,
    indexes: EJSON.stringify(state.indexes, { relaxed: false }),
    type: state.report.type,
    hasValidator: state.hasValidator,
  };
}

/** The engine's state of a collection taken over from the step before, its temporary collection as left. */
export function resumedState(staged: StagedInProgress): NamespaceState {
  const indexes = EJSON.parse(staged.indexes, { relaxed: false }) as Document[];
  return {
    source: staged.source,
    target: staged.target,
    written: staged.written,
    staged: true,
    stagedCreated: true,
    renameSent: false,
    report: {
      source: formatNamespace(staged.source),
      target: formatNamespace(staged.target),
      status: "untouched",
      documents: staged.documents,
      bytes: staged.bytes,
      indexes: indexes.map((index) => String(index.name)),
      type: staged.type,
    },
    ready: Promise.resolve(),
    pending: [],
    pendingBytes: 0,
    pendingDocuments: 0,
    inFlight: new Set(),
    received: staged.documents,
    indexes,
    hasValidator: staged.hasValidator,
  };
}

/**
 * Before inserting after the checkpoint: the temporary collection must hold the documents before it. More
 * means a step retried after a crash, which had gone on past the checkpoint: with a unique `_id` index (every
 * collection but the capped ones of old servers created without one; secondary indexes are built only once a
 * collection is complete) the documents inserted again after the checkpoint are refused as duplicates and
 * count as already there, since the archive holds each `_id` once. Without one, nothing tells those apart
 * from the ones before the checkpoint (natural order is not insertion order in general), so the step fails
 * rather than restore a document twice. Returns whether duplicates are to be expected.
 */
export async function checkResumedStaging(
  client: MongoClient,
  state: NamespaceState,
  /** Documents written before the checkpoint (the reader adds to `state.received` meanwhile). */
  before: number,
): Promise<boolean> {
  const where = state.report.target;
  const counted = await client.db(state.written.db).command({ count: state.written.collection });
  const held = Number(counted.n);
  if (held === before) return false;
  if (held < before) {
    throw new CollectionSetupError(
      where,
      `the restore's temporary collection ${formatNamespace(state.written)} holds ${held} documents, fewer ` +
        `than the ${before} written before the checkpoint: it changed since; start the restore again`,
    );
  }
  const indexes = (await client
    .db(state.written.db)
    .collection(state.written.collection)
    .listIndexes()
    .toArray()) as Document[];
  const uniqueId = indexes.some(
    (index) =>
      index.name === "_id_" || (index.unique === true && Object.keys(index.key ?? {}).join() === "_id"),
  );
  if (!uniqueId) {
    throw new CollectionSetupError(
      where,
      `a step retried after a crash found ${held - before} documents past the checkpoint in ` +
        `${formatNamespace(state.written)}, which has no unique _id index to tell them apart: start the restore again`,
    );
  }
  return true;
}
