import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ByteReader } from "../../lambdas/core/archive/byte-reader";

async function* chunked(bytes: Buffer, size: number) {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

describe("ByteReader", () => {
  it("hands out the stream byte for byte when the waiting and the synchronous reads are mixed", async () => {
    const bytes = randomBytes(10_000);
    for (const size of [1, 3, 7, 64, 4096, 20_000]) {
      const reader = new ByteReader(chunked(bytes, size));
      const out: Buffer[] = [];
      let step = 0;
      while (!(await reader.atEnd())) {
        const n = 1 + (step % 13);
        const target = Buffer.alloc(n);
        step += 1;
        if (step % 4 === 0) {
          out.push((await reader.read(n)) ?? Buffer.alloc(0));
        } else if (step % 4 === 1 && reader.bufferedInt32LE() !== undefined) {
          // The synchronous int32 must agree with the waiting one.
          expect(reader.bufferedInt32LE()).toBe(await reader.peekInt32LE());
        } else if (reader.readIntoBuffered(target, 0, n)) {
          out.push(target);
        } else if (await reader.readInto(target, 0, n)) {
          out.push(target);
        } else {
          out.push((await reader.readSome(n)) ?? Buffer.alloc(0));
        }
        expect(reader.position).toBe(out.reduce((sum, part) => sum + part.length, 0));
      }
      expect(Buffer.concat(out).equals(bytes)).toBe(true);
    }
  });

  it("consumes nothing when a synchronous read finds too few bytes buffered", async () => {
    const reader = new ByteReader(chunked(Buffer.from([1, 2, 3, 4, 5, 6]), 2));
    await reader.fill(2);
    const target = Buffer.alloc(4);
    expect(reader.readIntoBuffered(target, 0, 4)).toBe(false);
    expect(reader.position).toBe(0);
    expect(await reader.readInto(target, 0, 4)).toBe(true);
    expect([...target]).toEqual([1, 2, 3, 4]);
    expect([...(await reader.peek(2))]).toEqual([5, 6]);
  });
});
