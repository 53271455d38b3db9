import { BSON } from "mongodb";
import { describe, expect, it } from "vitest";
import { documentRuns } from "../../lambdas/core/archive/bson-stream";
import { checkDocument } from "../../lambdas/core/archive/bson-walk";
import { ByteReader } from "../../lambdas/core/archive/byte-reader";
import { DocumentRun } from "../../lambdas/core/archive/document-run";
import { escapeCollectionName, unescapeCollectionName } from "../../lambdas/core/archive/names";
import { bsonTypeDocuments } from "../support/seed";

const serialize = (doc: BSON.Document) => Buffer.from(BSON.serialize(doc, { ignoreUndefined: false }));

describe("BSON walking", () => {
  it("accepts every BSON type as the driver serialises it", () => {
    for (const doc of bsonTypeDocuments(true)) {
      const bytes = serialize(doc);
      expect(checkDocument(bytes, 0, bytes.length), JSON.stringify(doc._id)).toBeUndefined();
    }
  });

  it("refuses each kind of damage with the reason", () => {
    const good = serialize({ a: "hello", n: { x: [1, 2] } });
    const at = (mutate: (b: Buffer) => void): string | undefined => {
      const bytes = Buffer.from(good);
      mutate(bytes);
      return checkDocument(bytes, 0, bytes.length);
    };
    expect(at((b) => b.writeInt32LE(good.length + 1, 0))).toMatch(/runs past its container/);
    expect(at((b) => b.writeUInt8(1, good.length - 1))).toMatch(/does not end with a NUL byte/);
    expect(at((b) => b.writeUInt8(0x42, 4))).toMatch(/unknown element type 0x42/);
    // The string length of "hello" (at 4 + type 1 + "a\0" 2) made to run past the document.
    expect(at((b) => b.writeInt32LE(1000, 7))).toMatch(/string length 1000 out of bounds/);
    const nested = good.indexOf(Buffer.from("n\0")) + 2;
    expect(at((b) => b.writeInt32LE(3, nested))).toMatch(/document length 3 is below the minimum/);
    const truncated = good.subarray(0, good.length - 3);
    expect(checkDocument(truncated, 0, truncated.length)).toMatch(/runs past/);
  });
});

/** `bytes` as a stream cut into chunks of the given sizes (cycled), as gunzip or S3 would hand it over. */
async function* chunked(bytes: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  for (let at = 0, i = 0; at < bytes.length; i += 1) {
    const size = sizes[i % sizes.length]!;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

async function runsOf(bytes: Buffer, sizes: number[], limits = { bytes: 1000, documents: 1000 }) {
  const runs: DocumentRun[] = [];
  for await (const run of documentRuns(new ByteReader(chunked(bytes, sizes)), { file: "t.bson" }, limits)) {
    runs.push(run);
  }
  return runs;
}

describe("document runs", () => {
  const documents = Array.from({ length: 300 }, (_, i) =>
    serialize({ _id: i, pad: "x".repeat((i * 37) % 150) }),
  );
  const stream = Buffer.concat(documents);

  it("hands on every document, in order and byte-equal, whatever the chunking", async () => {
    for (const sizes of [[1], [3, 7, 1], [4096], [stream.length]]) {
      // Runs of 3 documents fill less than half of their 1000-byte buffer, so each is handed on as a copy and
      // the buffer reused; all runs are collected before any is read, so a reused buffer that leaked into a
      // run would show as a changed earlier run.
      const runs = await runsOf(stream, sizes, { bytes: 1000, documents: 3 });
      const seen = runs.flatMap((run) => [...run.documents()]);
      expect(seen.length, String(sizes)).toBe(documents.length);
      expect(Buffer.concat(seen).equals(stream), String(sizes)).toBe(true);
      expect(runs.reduce((sum, run) => sum + run.count, 0)).toBe(documents.length);
    }
  });

  it("keeps runs within their byte and document bounds; an oversized document is a run of its own", async () => {
    const big = serialize({ _id: "big", pad: "y".repeat(5000) });
    const mixed = Buffer.concat([...documents.slice(0, 50), big, ...documents.slice(50)]);
    const runs = await runsOf(mixed, [512], { bytes: 1000, documents: 6 });
    for (const run of runs) {
      expect(run.count).toBeLessThanOrEqual(6);
      if (run.count > 1) expect(run.byteLength).toBeLessThanOrEqual(1000);
    }
    expect(runs.some((run) => run.count === 1 && run.bytes.equals(big))).toBe(true);
    expect(Buffer.concat(runs.map((run) => run.bytes)).equals(mixed)).toBe(true);
  });

  it("does not pin a batch-sized buffer for a small collection", async () => {
    const [run] = await runsOf(documents[0]!, [64], { bytes: 1 << 20, documents: 1000 });
    expect(run!.count).toBe(1);
    expect(run!.bytes.buffer.byteLength).toBeLessThan(1 << 20);
  });

  it("names the document and the file when the stream is damaged", async () => {
    const truncated = stream.subarray(0, stream.length - 10);
    await expect(runsOf(truncated, [100])).rejects.toThrow(/t\.bson: document #300 is truncated/);
    const badLength = Buffer.from(stream);
    badLength.writeInt32LE(3, documents[0]!.length);
    await expect(runsOf(badLength, [100])).rejects.toThrow(/document #2 has invalid length 3/);
    await expect(runsOf(Buffer.concat([stream, Buffer.from([1, 2])]), [100])).rejects.toThrow(
      /truncated document #301 \(fewer than 4 bytes left\)/,
    );
  });

  it("splits a run by document count and bytes without copying", () => {
    const run = DocumentRun.of(documents.slice(0, 10));
    const parts = run.split(4);
    expect(parts.map((part) => part.count)).toEqual([4, 4, 2]);
    expect(Buffer.concat(parts.map((part) => part.bytes)).equals(run.bytes)).toBe(true);
    expect(parts[1]!.bytes.buffer).toBe(run.bytes.buffer);
    expect(run.split(10)).toEqual([run]);
    const bySize = run.split(10, documents[0]!.length + documents[1]!.length);
    expect(bySize[0]!.count).toBe(2);
    for (const part of bySize) {
      if (part.count > 1)
        expect(part.byteLength).toBeLessThanOrEqual(documents[0]!.length + documents[1]!.length);
    }
    expect(Buffer.concat(bySize.map((part) => part.bytes)).equals(run.bytes)).toBe(true);
    expect(run.split(10, 1).map((part) => part.count)).toEqual(Array(10).fill(1));
  });
});

describe("collection file names", () => {
  it.each([
    ["orders", "orders"],
    ["odd name/with%chars", "odd+name%2Fwith%25chars"],
    ["café.über", "caf%C3%A9.%C3%BCber"],
    ["a:b*c?d", "a%3Ab%2Ac%3Fd"],
  ])("escapes %s as mongodump does", (name, file) => {
    expect(escapeCollectionName(name)).toBe(file);
    expect(unescapeCollectionName(file)).toBe(name);
  });
});
