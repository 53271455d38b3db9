/**
 * Bounds-checked walking of raw BSON, without decoding values: a backup archive is checked document by document
 * at the speed of a byte scan. Every length is checked against its container before it is trusted.
 */

/** mongod accepts documents up to 16 MiB; internal documents may carry 16 KiB more (as mongodump allows). */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024 + 16 * 1024;

/** Returns undefined when `buf[start, end)` is exactly one valid document, else the problem. */
export function checkDocument(buf: Buffer, start: number, end: number): string | undefined {
  try {
    const stop = walkDocument(buf, start, end, 0);
    return stop === end ? undefined : `document ends at byte ${stop - start}, length says ${end - start}`;
  } catch (error) {
    return (error as Error).message;
  }
}

function fail(reason: string): never {
  throw new Error(reason);
}

// Every document of every backup and restore goes through here: lengths are read byte by byte and names are
// scanned in JavaScript, because a native call (readInt32LE's checks, indexOf) per element costs more than
// the short scan itself.
function int32(buf: Buffer, at: number, end: number): number {
  if (at + 4 > end) fail("length field runs past the end of its document");
  return buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24);
}

/** Skips a NUL-terminated cstring, returns the offset after the NUL. */
function cstring(buf: Buffer, at: number, end: number): number {
  let nul = at;
  while (nul < end && buf[nul] !== 0) nul += 1;
  if (nul >= end) fail("unterminated name or string");
  return nul + 1;
}

function string(buf: Buffer, at: number, end: number): number {
  const length = int32(buf, at, end);
  if (length < 1 || at + 4 + length > end) fail(`string length ${length} out of bounds`);
  if (buf[at + 4 + length - 1] !== 0) fail("string is not NUL-terminated");
  return at + 4 + length;
}

/** Walks a document (or array) at `start` that must fit in `[start, limit)`; returns the offset after it. */
function walkDocument(buf: Buffer, start: number, limit: number, depth: number): number {
  if (depth > 200) fail("documents nested more than 200 levels deep");
  const length = int32(buf, start, limit);
  if (length < 5) fail(`document length ${length} is below the minimum of 5`);
  const end = start + length;
  if (end > limit) fail(`document length ${length} runs past its container`);
  if (buf[end - 1] !== 0) fail("document does not end with a NUL byte");
  let at = start + 4;
  while (at < end - 1) {
    const type = buf[at]!;
    at = cstring(buf, at + 1, end - 1);
    at = skipValue(buf, type, at, end - 1, depth);
  }
  if (at !== end - 1) fail("element runs past the end of its document");
  return end;
}

function skipValue(buf: Buffer, type: number, at: number, end: number, depth: number): number {
  let next: number;
  switch (type) {
    case 0x01: // double
    case 0x09: // UTC datetime
    case 0x11: // timestamp
    case 0x12: // int64
      next = at + 8;
      break;
    case 0x02: // string
    case 0x0d: // JavaScript code
    case 0x0e: // symbol
      return string(buf, at, end);
    case 0x03: // document
    case 0x04: // array
      return walkDocument(buf, at, end, depth + 1);
    case 0x05: {
      const length = int32(buf, at, end);
      if (length < 0) fail(`binary length ${length} is negative`);
      next = at + 5 + length;
      break;
    }
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // max key
    case 0xff: // min key
      return at;
    case 0x07: // ObjectId
      next = at + 12;
      break;
    case 0x08:
      if (at >= end || buf[at]! > 1) fail("boolean is neither 0 nor 1");
      return at + 1;
    case 0x0b: // regex: two cstrings
      return cstring(buf, cstring(buf, at, end), end);
    case 0x0c: // DBPointer
      next = string(buf, at, end) + 12;
      break;
    case 0x0f: {
      const length = int32(buf, at, end);
      const scopeStart = string(buf, at + 4, end);
      const after = walkDocument(buf, scopeStart, end, depth + 1);
      if (after !== at + length) fail("code-with-scope length does not match its parts");
      return after;
    }
    case 0x10: // int32
      next = at + 4;
      break;
    case 0x13: // decimal128
      next = at + 16;
      break;
    default:
      fail(`unknown element type 0x${type.toString(16).padStart(2, "0")}`);
  }
  if (next > end) fail(`value of type 0x${type.toString(16)} runs past the end of its document`);
  return next;
}

/** A top-level element of a document, its value not decoded: `[start, end)` are the value's bytes. */
export interface BsonElement {
  type: number;
  start: number;
  end: number;
}

/**
 * The top-level elements of the document at `start` by name, every length checked on the way (values are
 * skipped, not walked: only their own lengths are trusted).
 */
export function elementsOf(buf: Buffer, start = 0, limit = buf.length): Map<string, BsonElement> {
  const length = int32(buf, start, limit);
  if (length < 5) fail(`document length ${length} is below the minimum of 5`);
  const end = start + length;
  if (end > limit) fail(`document length ${length} runs past its container`);
  if (buf[end - 1] !== 0) fail("document does not end with a NUL byte");
  const elements = new Map<string, BsonElement>();
  let at = start + 4;
  while (at < end - 1) {
    const type = buf[at]!;
    const valueStart = cstring(buf, at + 1, end - 1);
    const valueEnd = skipShallow(buf, type, valueStart, end - 1);
    elements.set(buf.toString("latin1", at + 1, valueStart - 1), { type, start: valueStart, end: valueEnd });
    at = valueEnd;
  }
  if (at !== end - 1) fail("element runs past the end of its document");
  return elements;
}

/** Like skipValue, but a subdocument is skipped by its length, not walked. */
function skipShallow(buf: Buffer, type: number, at: number, end: number): number {
  if (type !== 0x03 && type !== 0x04) return skipValue(buf, type, at, end, 0);
  const length = int32(buf, at, end);
  if (length < 5 || at + length > end) fail(`subdocument length ${length} runs past its container`);
  if (buf[at + length - 1] !== 0) fail("subdocument does not end with a NUL byte");
  return at + length;
}

/**
 * The documents of the array at `[start, end)` (an element's value), each a view into `buf`, not a copy. Fails
 * on an element that is not a document, or whose length does not fit, before anything is returned.
 */
export function documentsOfArray(buf: Buffer, start: number, end: number): Buffer[] {
  const documents: Buffer[] = [];
  let at = start + 4;
  while (at < end - 1) {
    if (buf[at] !== 0x03) {
      fail(`array element ${documents.length} is of type 0x${buf[at]!.toString(16)}, not a document`);
    }
    const valueStart = cstring(buf, at + 1, end - 1);
    const valueEnd = skipShallow(buf, 0x03, valueStart, end - 1);
    documents.push(Buffer.from(buf.buffer, buf.byteOffset + valueStart, valueEnd - valueStart));
    at = valueEnd;
  }
  if (at !== end - 1) fail("array element runs past the end of its array");
  return documents;
}
