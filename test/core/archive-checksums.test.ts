import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Crc64 } from "../../lambdas/core/archive/crc64";
import { DocumentsDigest } from "../../lambdas/core/archive/documents-digest";

/** The definition, one bit at a time: reflected ECMA-182, initial and final inversion (CRC-64/XZ, Go's ECMA). */
function crc64Reference(bytes: Uint8Array): bigint {
  const poly = 0xc96c5795d7870f42n;
  let crc = 0xffffffffffffffffn;
  for (const byte of bytes) {
    crc ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return BigInt.asIntN(64, crc ^ 0xffffffffffffffffn);
}

describe("CRC-64 (mongodump --archive namespace checksums)", () => {
  it("gives the published check value of CRC-64/XZ for '123456789'", () => {
    const crc = new Crc64();
    crc.update(Buffer.from("123456789"));
    expect(BigInt.asUintN(64, crc.value())).toBe(0x995dc9bbdf1939fan);
  });

  it("matches the bitwise definition for every length and however the bytes are split", () => {
    for (let length = 0; length <= 70; length += 1) {
      const bytes = randomBytes(length);
      const whole = new Crc64();
      whole.update(bytes);
      expect(whole.value()).toBe(crc64Reference(bytes));
      // Updates of odd sizes at odd offsets: the 8-byte steps must carry over between calls.
      const split = new Crc64();
      for (let at = 0; at < length; at += 3) split.update(bytes.subarray(at, at + 3));
      expect(split.value()).toBe(whole.value());
    }
  });
});

describe("documents digest (the manifest's documentsDigest)", () => {
  it("is the sum modulo 2^256 of each document's SHA-256, as the format defines it", () => {
    const documents = Array.from({ length: 500 }, (_, i) => randomBytes(5 + (i % 300)));
    const digest = new DocumentsDigest();
    let sum = 0n;
    for (const document of documents) {
      digest.add(document);
      sum = (sum + BigInt(`0x${createHash("sha256").update(document).digest("hex")}`)) % (1n << 256n);
    }
    expect(digest.documents).toBe(500);
    expect(digest.hex()).toBe(sum.toString(16).padStart(64, "0"));
  });

  it("does not depend on the order of the documents, and sees a changed byte", () => {
    const documents = Array.from({ length: 50 }, () => randomBytes(40));
    const forward = new DocumentsDigest();
    const backward = new DocumentsDigest();
    for (const document of documents) forward.add(document);
    for (const document of [...documents].reverse()) backward.add(document);
    expect(backward.hex()).toBe(forward.hex());
    const changed = new DocumentsDigest();
    documents[7]![3]! ^= 1;
    for (const document of documents) changed.add(document);
    expect(changed.hex()).not.toBe(forward.hex());
    expect(new DocumentsDigest().hex()).toBe("0".repeat(64));
  });
});
