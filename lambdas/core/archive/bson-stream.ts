import { ByteReader } from "./byte-reader";
import { checkDocument, MAX_DOCUMENT_BYTES } from "./bson-walk";
import { ArchiveError } from "./events";

/** Splits a stream of concatenated BSON documents into checked batches; `file` names it in errors. */
export async function* documentBatches(
  reader: ByteReader,
  where: { file?: string; namespace?: string },
  batchBytes: number,
  /** mongodump --archive segments end with a 0xFFFFFFFF terminator instead of the end of a file. */
  terminated = false,
): AsyncGenerator<Buffer[]> {
  let batch: Buffer[] = [];
  let bytes = 0;
  let index = 0;
  for (;;) {
    const lengthBytes = await reader.read(4);
    if (!lengthBytes) {
      if (terminated) throw new ArchiveError("archive is truncated inside a collection's documents", where);
      if ((await reader.peek(1)).length > 0) {
        throw new ArchiveError(`truncated document #${index + 1} (fewer than 4 bytes left)`, where);
      }
      break;
    }
    const length = lengthBytes.readInt32LE(0);
    if (terminated && length === -1) break;
    index += 1;
    if (length < 5 || length > MAX_DOCUMENT_BYTES) {
      throw new ArchiveError(`document #${index} has invalid length ${length}`, where);
    }
    const rest = await reader.read(length - 4);
    if (!rest) throw new ArchiveError(`document #${index} is truncated (length says ${length} bytes)`, where);
    const document = Buffer.concat([lengthBytes, rest], length);
    const problem = checkDocument(document, 0, length);
    if (problem) throw new ArchiveError(`document #${index} is not valid BSON: ${problem}`, where);
    batch.push(document);
    bytes += length;
    if (bytes >= batchBytes) {
      yield batch;
      batch = [];
      bytes = 0;
    }
  }
  if (batch.length > 0) yield batch;
}
