import { MongoNetworkError, MongoServerError, type Document, type MongoClient } from "mongodb";
import { documentsOfArray, elementsOf, type BsonElement } from "../archive/bson-walk";

/**
 * Reading a collection's documents as their bytes, a server batch at a time, without the driver building an
 * object per document. The driver's cursor, even with `raw: true`, parses every document of every batch into
 * an object with its fields' offsets (some 6 CPU seconds per GB of small documents, and a heap that grows with
 * the documents per batch). Sent as commands with `raw: true`, `find` and `getMore` come back as one buffer
 * whose `cursor` is left undecoded; the batch's documents are sliced out of it here, as views.
 *
 * The driver still does connections, authentication, TLS, compression, server selection and monitoring. What
 * its cursor adds on top is done here: one session for the find and its getMores (the server ties a cursor
 * to its session), the initial find retried once on the errors the driver retries reads on, and killCursors
 * when the reader stops early. Where a getMore might not reach the server holding the cursor (several
 * mongos, a load balancer, a read preference other than primary), the driver's cursor is used instead.
 */
export interface RawFindOptions {
  filter?: Document;
  sort?: Document;
  hint?: Document | string;
  /**
   * Documents per batch asked of the server (which also caps a batch at 16 MiB). The driver's cursor, where it
   * has to be used, takes at most DRIVER_CURSOR_BATCH: its heap grows with the documents per batch.
   */
  batchSize?: number;
  signal?: AbortSignal;
}

/** Documents per batch on the command path: small documents make ~1-2 MiB batches. */
export const RAW_DOCUMENTS_PER_BATCH = 5000;

/**
 * Bytes a getMore asks for, at most: the next batch's documents are sized from the average so far, so large
 * documents make batches of ~4 MiB rather than the server's 16 MiB cap (two batches are held at a time, and
 * the driver holds a reply's chunks while it assembles it).
 */
export const BATCH_TARGET_BYTES = 4 * 1024 * 1024;

/** Documents of the first batch, before their size is known (at most 4 MiB of 64 KiB documents). */
const FIRST_BATCH = 64;

/** The documents the next getMore asks for, after `documents` documents of `bytes` bytes. */
export function nextBatchSize(limit: number, documents: number, bytes: number): number {
  if (documents === 0 || bytes === 0) return limit;
  return Math.max(1, Math.min(limit, Math.floor(BATCH_TARGET_BYTES / (bytes / documents))));
}

/**
 * Documents per batch through the driver's cursor: it keeps one parsed object per document of the batch it
 * holds, so the server's default batch (16 MiB, some 60,000 small documents), two at once, took the heap past
 * 300 MB; 1000 keep it under ~50 MB.
 */
export const DRIVER_CURSOR_BATCH = 1000;

/** How the reads of a deployment go: as commands (with a session or not), or through the driver's cursor. */
export type ReadRoute = { kind: "commands"; sessions: boolean } | { kind: "cursor"; reason: string };

/**
 * Decides the route from the server's `hello` reply and the client's settings: commands only where every
 * getMore reaches the server that holds the cursor, i.e. the one primary (or the one server) of a deployment
 * that is not sharded and not behind a load balancer.
 */
export function readRoute(
  hello: Document,
  settings: { loadBalanced: boolean; readPreference: string },
): ReadRoute {
  if (settings.loadBalanced) return { kind: "cursor", reason: "load-balanced connection" };
  if (hello.msg === "isdbgrid") return { kind: "cursor", reason: "sharded cluster (mongos)" };
  if (settings.readPreference !== "primary") {
    return { kind: "cursor", reason: `read preference ${settings.readPreference}` };
  }
  return { kind: "commands", sessions: hello.logicalSessionTimeoutMinutes != null };
}

const routes = new WeakMap<MongoClient, Promise<ReadRoute>>();

/** The route for this client, asked once per client. */
export function routeOf(client: MongoClient): Promise<ReadRoute> {
  let route = routes.get(client);
  if (!route) {
    route = client
      .db("admin")
      .command({ hello: 1 })
      .then((hello) =>
        readRoute(hello, {
          loadBalanced: client.options.loadBalanced,
          readPreference: client.readPreference.mode,
        }),
      );
    route.catch(() => routes.delete(client));
    routes.set(client, route);
  }
  return route;
}

/** The documents of `db.collection` matching the filter, a batch at a time. Stopping early ends the cursor. */
export async function* rawFind(
  client: MongoClient,
  db: string,
  collection: string,
  options: RawFindOptions = {},
): AsyncGenerator<Buffer[]> {
  const route = await routeOf(client);
  if (route.kind === "cursor") yield* cursorBatches(client, db, collection, options);
  else yield* commandBatches(client, db, collection, options, route.sessions);
}

// Codes of the errors the driver retries a read on (the retryable reads specification's list).
const RETRYABLE_READ_CODES = new Set([6, 7, 89, 91, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/** True when the initial find may be sent again: nothing was read yet, and the driver would retry it. */
export function isRetryableRead(error: unknown): boolean {
  if (error instanceof MongoNetworkError) return true;
  return (
    error instanceof MongoServerError &&
    typeof error.code === "number" &&
    RETRYABLE_READ_CODES.has(error.code)
  );
}

interface Batch {
  documents: Buffer[];
  cursorId: bigint;
}

/** The cursor of a find or getMore reply: its id and its batch's documents, as views. */
export function cursorBatch(reply: Document, batchField: "firstBatch" | "nextBatch"): Batch {
  const cursor: unknown = reply.cursor;
  if (!(cursor instanceof Uint8Array)) throw new Error("reply has no cursor document");
  const bytes = Buffer.from(cursor.buffer, cursor.byteOffset, cursor.byteLength);
  const elements = elementsOf(bytes);
  const batch = elements.get(batchField);
  if (batch?.type !== 0x04) throw new Error(`reply's cursor has no ${batchField} array`);
  return {
    documents: documentsOfArray(bytes, batch.start, batch.end),
    cursorId: cursorIdOf(bytes, elements.get("id")),
  };
}

function cursorIdOf(bytes: Buffer, id: BsonElement | undefined): bigint {
  if (id?.type === 0x12) return bytes.readBigInt64LE(id.start);
  // A server may send a zero id as a narrower number.
  if (id?.type === 0x10 && bytes.readInt32LE(id.start) === 0) return 0n;
  throw new Error("reply's cursor has no 64-bit id");
}

async function* commandBatches(
  client: MongoClient,
  dbName: string,
  collection: string,
  options: RawFindOptions,
  sessions: boolean,
): AsyncGenerator<Buffer[]> {
  const db = client.db(dbName);
  const batchSize = options.batchSize ?? RAW_DOCUMENTS_PER_BATCH;
  // The driver's own cursor session does not ask for causal consistency either.
  const session = sessions ? client.startSession({ causalConsistency: false }) : undefined;
  const run = (command: Document): Promise<Document> =>
    db.command(command, { raw: true, session, signal: options.signal });
  // A first batch of a few documents: their size decides how many the getMores ask for.
  const find: Document = {
    find: collection,
    filter: options.filter ?? {},
    batchSize: Math.min(batchSize, FIRST_BATCH),
  };
  if (options.sort) find.sort = options.sort;
  if (options.hint) find.hint = options.hint;
  const readConcern = db.collection(collection).readConcern;
  if (readConcern) find.readConcern = readConcern.toJSON();
  let cursorId = 0n;
  let pending: Promise<Batch> | undefined;
  let documentsSeen = 0;
  let bytesSeen = 0;
  try {
    let batch: Batch;
    try {
      batch = cursorBatch(await run(find), "firstBatch");
    } catch (error) {
      if (!client.options.retryReads || !isRetryableRead(error)) throw error;
      batch = cursorBatch(await run(find), "firstBatch");
    }
    cursorId = batch.cursorId;
    for (;;) {
      documentsSeen += batch.documents.length;
      for (const document of batch.documents) bytesSeen += document.length;
      if (cursorId !== 0n) {
        // Asking for the next batch before handing on this one keeps the server busy meanwhile.
        const next = nextBatchSize(batchSize, documentsSeen, bytesSeen);
        pending = run({ getMore: cursorId, collection, batchSize: next }).then((reply) =>
          cursorBatch(reply, "nextBatch"),
        );
        pending.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
      }
      if (batch.documents.length > 0) yield batch.documents;
      if (!pending) break;
      batch = await pending;
      pending = undefined;
      cursorId = batch.cursorId;
    }
  } finally {
    if (pending)
      cursorId = await pending.then(
        (next) => next.cursorId,
        () => cursorId,
      );
    if (cursorId !== 0n) {
      await db.command({ killCursors: collection, cursors: [cursorId] }, { session }).catch(() => undefined);
    }
    await session?.endSession().catch(() => undefined);
  }
}

async function* cursorBatches(
  client: MongoClient,
  db: string,
  collection: string,
  options: RawFindOptions,
): AsyncGenerator<Buffer[]> {
  const cursor = client
    .db(db)
    .collection(collection)
    .find(options.filter ?? {}, {
      raw: true,
      batchSize: Math.min(options.batchSize ?? DRIVER_CURSOR_BATCH, DRIVER_CURSOR_BATCH),
      ...(options.sort ? { sort: options.sort } : {}),
      ...(options.hint ? { hint: options.hint } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  try {
    let more = await cursor.hasNext();
    while (more) {
      const batch = cursor.readBufferedDocuments() as unknown as Uint8Array[];
      const next = cursor.hasNext();
      next.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
      yield batch.map((raw) => Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
      more = await next;
    }
  } finally {
    await cursor.close().catch(() => undefined);
  }
}
