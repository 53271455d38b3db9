import type { UploadState } from "../targets/target";

const MAGIC = Buffer.from("atlas-ops continuation 1\n");

/**
 * A backup's state between invocations, as one object: JSON (values with BSON types, such as a collection's
 * metadata, are carried as canonical Extended JSON strings) and the upload's held bytes after it. Hand-written framing: a few lines,
 * where a general container format would bring a dependency for one use.
 */
export function encodeContinuation(fields: Record<string, unknown>, upload: UploadState): Buffer {
  const json = Buffer.from(JSON.stringify({ ...fields, upload: upload.fields }));
  const header = Buffer.alloc(8 + 8 * upload.blobs.length);
  header.writeUInt32BE(json.length, 0);
  header.writeUInt32BE(upload.blobs.length, 4);
  upload.blobs.forEach((blob, index) => header.writeDoubleBE(blob.length, 8 + 8 * index));
  return Buffer.concat([MAGIC, header, json, ...upload.blobs]);
}

export function decodeContinuation(
  bytes: Buffer,
  where: string,
): { fields: Record<string, unknown>; upload: UploadState } {
  const fail = (why: string): never => {
    throw new Error(`continuation ${where} is damaged: ${why}`);
  };
  if (bytes.length < MAGIC.length + 8 || !bytes.subarray(0, MAGIC.length).equals(MAGIC))
    fail("not a continuation");
  let at = MAGIC.length;
  const jsonLength = bytes.readUInt32BE(at);
  const blobCount = bytes.readUInt32BE(at + 4);
  at += 8;
  if (at + 8 * blobCount > bytes.length) fail("truncated header");
  const lengths = Array.from({ length: blobCount }, (_, index) => bytes.readDoubleBE(at + 8 * index));
  at += 8 * blobCount;
  if (at + jsonLength > bytes.length) fail("truncated state");
  const all = JSON.parse(bytes.subarray(at, at + jsonLength).toString("utf8")) as Record<string, unknown>;
  at += jsonLength;
  const blobs = lengths.map((length) => {
    if (at + length > bytes.length) fail("truncated held bytes");
    const blob = bytes.subarray(at, at + length);
    at += length;
    return blob;
  });
  if (at !== bytes.length) fail("trailing bytes");
  const { upload, ...fields } = all;
  return { fields, upload: { fields: upload as Record<string, unknown>, blobs } };
}
