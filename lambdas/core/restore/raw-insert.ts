import type { Db, Document } from "mongodb";
import * as driverCommands from "mongodb/lib/cmap/commands";
import type { DocumentRun } from "../archive/document-run";

/**
 * Inserting documents as their exact bytes. The driver's public API takes JavaScript objects, and a round trip
 * through them is lossy (undefined becomes null, a DBRef-shaped subdocument is reordered, dates outside the
 * JavaScript range are lost). The wire protocol carries inserted documents in an OP_MSG document sequence,
 * a list of raw BSON documents; the driver's DocumentSequence sends pre-serialised bytes unchanged, so the
 * server receives the backup's bytes as they are.
 */
const { DocumentSequence } = driverCommands;
if (typeof DocumentSequence !== "function") {
  throw new Error(
    "this mongodb driver version no longer provides DocumentSequence (mongodb/lib/cmap/commands): " +
      "raw-byte restores need it; pin the driver to a version that has it",
  );
}

const DUPLICATE_KEY = 11000;

/**
 * A write the server refused; names the namespace and the first offending document's position. `written` is
 * how many documents of the command the server accepted all the same (its `n`).
 */
export class InsertError extends Error {
  override name = "InsertError";
  constructor(
    readonly namespace: string,
    message: string,
    readonly code?: number,
    readonly written = 0,
  ) {
    super(`${namespace}: ${message}`);
  }
}

/**
 * Sends one insert command with the raw documents, checks that every one was written and returns how many
 * were. `ordered: false`
 * lets the server write the rest of a batch after one failure, and the caller still learns of the failure.
 * Documents that were valid when backed up must come back even if a validator changed since: with
 * `bypassDocumentValidation` the validator is not applied to them.
 */
export async function insertRawDocuments(
  db: Db,
  collection: string,
  runs: readonly DocumentRun[],
  options: {
    bypassDocumentValidation?: boolean;
    shownAs?: string;
    /**
     * A step retried after a crash may find documents of this batch already in (`_id` unique): duplicate-key
     * refusals then count as written.
     */
    duplicatesAreWritten?: boolean;
  } = {},
): Promise<number> {
  const count = runs.reduce((sum, run) => sum + run.count, 0);
  if (count === 0) return 0;
  // A section's payload is documents end to end, so a whole run goes in as one piece. (The object passed
  // beside it is only echoed to command monitoring, which a restore does not turn on.)
  const sequence = new DocumentSequence("documents");
  for (const run of runs) sequence.push({}, run.bytes);
  const namespace = options.shownAs ?? `${db.databaseName}.${collection}`;
  let reply: Document;
  try {
    // Only asked for when the collection has a validator: the privilege is not part of readWrite.
    const bypass = options.bypassDocumentValidation ? { bypassDocumentValidation: true } : {};
    reply = await db.command({ insert: collection, documents: sequence, ordered: false, ...bypass });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new InsertError(
      namespace,
      `insert of ${count} documents failed: ${(error as Error).message}`,
      typeof code === "number" ? code : undefined,
    );
  }
  // The server's own count of what it wrote: with ordered: false, the documents around a refused one are in.
  let written = typeof reply.n === "number" ? reply.n : Number(reply.n ?? 0);
  let writeErrors = Array.isArray(reply.writeErrors) ? (reply.writeErrors as Document[]) : [];
  if (options.duplicatesAreWritten) {
    const others = writeErrors.filter((error) => error.code !== DUPLICATE_KEY);
    written += writeErrors.length - others.length;
    writeErrors = others;
  }
  if (writeErrors.length > 0) {
    const first = writeErrors[0]!;
    throw new InsertError(
      namespace,
      `${writeErrors.length} of ${count} documents refused (${written} written); first (batch position ` +
        `${String(first.index)}): ${String(first.errmsg)}`,
      typeof first.code === "number" ? first.code : undefined,
      written,
    );
  }
  if (reply.writeConcernError) {
    throw new InsertError(
      namespace,
      `write concern error: ${String((reply.writeConcernError as Document).errmsg)}`,
      undefined,
      written,
    );
  }
  if (written !== count) {
    throw new InsertError(
      namespace,
      `server acknowledged ${written} of ${count} documents`,
      undefined,
      written,
    );
  }
  return written;
}
