import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { BSON } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tarOf } from "../support/tar";

/** Entry names come from the archive: a hostile one must not drive the operator's terminal. */
const cli = resolve(__dirname, "../../bin/atlas-ops.mjs");
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
let work: string;
let archive: string;

function atlasOps(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, MONGODB_URI: "" } },
      (error, out, err) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, output: out + err });
      },
    );
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "atlas-ops-names-"));
  // Retitles the window and clears the screen, in a .bson whose last document is cut short.
  const hostile = "shop\u001b]0;all good\u0007/users\u001b[2J";
  const bson = Buffer.concat([BSON.serialize({ _id: 1 }), BSON.serialize({ _id: 2 })]);
  archive = join(work, "hostile.tar.gz");
  await writeFile(
    archive,
    gzipSync(
      tarOf([
        { path: `${hostile}.metadata.json`, data: Buffer.from('{"indexes":[]}') },
        { path: `${hostile}.bson`, data: bson.subarray(0, bson.length - 3) },
      ]),
    ),
  );
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("control characters in entry names are printed as visible escapes", () => {
  it.each([
    ["verify", ["verify", "ARCHIVE"]],
    ["restore --dry-run", ["restore", "--dry-run", "ARCHIVE"]],
  ])("%s: the failure names the entry, escaped", async (_label, args) => {
    const result = await atlasOps(args.map((arg) => (arg === "ARCHIVE" ? archive : arg)));
    expect(result.code).toBe(1);
    expect(result.output).not.toMatch(CONTROL);
    expect(result.output).toContain("shop\\x1b]0;all good\\x07/users\\x1b[2J.bson");
    expect(result.output).toMatch(/truncated/);
  });
});
