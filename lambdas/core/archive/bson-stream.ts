import { ByteReader } from "./byte-reader";
import { checkDocument, MAX_DOCUMENT_BYTES } from "./bson-walk";
import { DocumentRun } from "./document-run";
import { ArchiveError } from "./events";

export interface RunLimits {
  /** A run is handed on once it holds this many bytes (a larger single document makes a run of its own). */
  bytes: number;
  /** ... or this many documents. */
  documents: number;
}

/** A run's buffer starts this small and doubles up to the run size: a one-document collection stays cheap. */
const FIRST_BUFFER_BYTES = 64 * 1024;

/**
 * Splits a stream of concatenated BSON documents into checked runs; `where` names the file or namespace in
 * errors. Documents are copied from the stream into the run's buffer directly. The buffer grows by doubling
 * up to the run size, and a run that used less than half of it is handed on as an exact copy while the buffer
 * is reused, so a small collection neither allocates nor pins a whole batch-sized buffer.
 */
export async function* documentRuns(
  reader: ByteReader,
  where: { file?: string; namespace?: string },
  limits: RunLimits,
  /** mongodump --archive segments end with a 0xFFFFFFFF terminator instead of the end of a file. */
  terminated = false,
  /** Documents of the file before the reader's first byte (a read resumed inside it), for error messages. */
  documentsBefore = 0,
): AsyncGenerator<DocumentRun> {
  let buffer: Buffer | undefined;
  let capacity = Math.min(limits.bytes, FIRST_BUFFER_BYTES);
  let filled = 0;
  let count = 0;
  let index = documentsBefore;
  const take = (): DocumentRun => {
    const full = buffer!;
    let run: DocumentRun;
    if (filled * 2 >= full.length) {
      run = new DocumentRun(full.subarray(0, filled), count);
      buffer = undefined;
    } else {
      run = new DocumentRun(Buffer.from(full.subarray(0, filled)), count);
    }
    filled = 0;
    count = 0;
    return run;
  };
  for (;;) {
    // The synchronous paths first: one await per document is a large part of reading small ones.
    const length = reader.bufferedInt32LE() ?? (await reader.peekInt32LE());
    if (length === undefined) {
      if (terminated) throw new ArchiveError("archive is truncated inside a collection's documents", where);
      if ((await reader.peek(1)).length > 0) {
        throw new ArchiveError(`truncated document #${index + 1} (fewer than 4 bytes left)`, where);
      }
      break;
    }
    if (terminated && length === -1) {
      await reader.read(4);
      break;
    }
    index += 1;
    if (length < 5 || length > MAX_DOCUMENT_BYTES) {
      throw new ArchiveError(`document #${index} has invalid length ${length}`, where);
    }
    if (count > 0 && filled + length > buffer!.length && buffer!.length < limits.bytes) {
      capacity = Math.min(limits.bytes, Math.max(buffer!.length * 2, filled + length));
      const bigger = Buffer.allocUnsafeSlow(capacity);
      buffer!.copy(bigger, 0, 0, filled);
      buffer = bigger;
    }
    if (count > 0 && filled + length > buffer!.length) yield take();
    if (!buffer || buffer.length < length) buffer = Buffer.allocUnsafeSlow(Math.max(capacity, length));
    if (
      !reader.readIntoBuffered(buffer, filled, length) &&
      !(await reader.readInto(buffer, filled, length))
    ) {
      throw new ArchiveError(`document #${index} is truncated (length says ${length} bytes)`, where);
    }
    const problem = checkDocument(buffer, filled, filled + length);
    if (problem) throw new ArchiveError(`document #${index} is not valid BSON: ${problem}`, where);
    filled += length;
    count += 1;
    if (filled >= limits.bytes || count >= limits.documents) yield take();
  }
  if (count > 0) yield take();
}
