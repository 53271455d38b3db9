import { BSON } from "mongodb";
import { describe, expect, it } from "vitest";
import { checkDocument } from "../../lambdas/core/archive/bson-walk";
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
