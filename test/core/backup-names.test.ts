import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveArchive } from "../../lambdas/adapters/targets";
import { collectionFileName } from "../../lambdas/core/archive/names";
import { runBackup, type BackupResult } from "../../lambdas/core/backup/backup";
import { NamespaceSelection } from "../../lambdas/core/restore/namespaces";
import { restoreArchive } from "../../lambdas/core/restore/restore-archive";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { verifyArchive } from "../../lambdas/core/verify/verify";
import { testEnv, uniqueName } from "../support/env";
import { rawDocuments } from "../support/documents";

const run = promisify(execFile);
const env = testEnv();

// Escaped, the first four are longer than a file name may be (about 60 accented or 43 CJK characters); the
// two accented ones share their first 208 escaped bytes, so only the hash keeps their files apart. The last
// escapes to exactly 238 bytes, the longest name mongodump keeps whole.
const LONG_NAMES = [
  "é".repeat(60),
  `${"é".repeat(60)}-second`,
  "漢".repeat(43),
  "!".repeat(80),
  `${"!".repeat(79)}a`,
];

describe("collection names longer than a file name", () => {
  const db = uniqueName("bknames").replaceAll("-", "_");
  let client: MongoClient;
  let work: string;
  let result: BackupResult;

  beforeAll(async () => {
    client = await MongoClient.connect(env.mongodbUri);
    for (const [index, name] of LONG_NAMES.entries()) {
      await client
        .db(db)
        .collection(name)
        .insertMany([{ n: index }, { n: index + 100 }]);
    }
    work = await mkdtemp(join(tmpdir(), "backup-names-"));
    result = await runBackup({
      uri: env.mongodbUri,
      target: new FileTarget(join(work, "backups")),
      databases: [db],
    });
  });
  afterAll(async () => {
    for (const name of [db, `${db}_stock`, `${db}_ours`]) await client?.db(name).dropDatabase();
    await client?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("are shortened and hashed exactly as the stock mongodump names its files, with the same bytes", async () => {
    const dump = join(work, "mongodump");
    await run(env.mongodump, [`--uri=${env.mongodbUri}`, `--db=${db}`, `--out=${dump}`]);
    const theirs = (await readdir(join(dump, db))).sort();
    const archive = join(work, "backups", "daily", `${result.name}.tar.gz`);
    await mkdir(join(work, "extract"));
    await run("tar", ["-xzf", archive, "-C", join(work, "extract")]);
    const ours = (await readdir(join(work, "extract", result.name, db))).sort();
    expect(ours).toEqual(theirs);
    expect(theirs.filter((file) => file.includes("%24"))).toHaveLength(2 * 4);
    for (const file of theirs) {
      const mine = await readFile(join(work, "extract", result.name, db, file));
      expect(mine.equals(await readFile(join(dump, db, file))), file).toBe(true);
    }
    for (const name of LONG_NAMES) {
      const file = collectionFileName(name);
      expect(Buffer.byteLength(`${file}.metadata.json.gz`)).toBeLessThanOrEqual(255);
      expect(theirs).toContain(`${file}.bson`);
    }
  });

  it("come back under their real names with `tar -xzf` and the stock mongorestore", async () => {
    const extract = join(work, "extract", result.name);
    const { stderr } = await run(env.mongorestore, [
      `--uri=${env.mongodbUri}`,
      `--nsFrom=${db}.*`,
      `--nsTo=${db}_stock.*`,
      extract,
    ]);
    expect(stderr).toMatch(/10 document\(s\) restored successfully/);
    for (const name of LONG_NAMES) {
      expect(await rawDocuments(client, `${db}_stock`, name), name).toEqual(
        await rawDocuments(client, db, name),
      );
    }
  });

  it("verify and restore under their real names with atlas-ops", async () => {
    const archive = `file://${join(work, "backups", "daily", `${result.name}.tar.gz`)}`;
    const { target, key } = await resolveArchive(archive);
    const report = await verifyArchive(target, key);
    expect(report.problem).toBeUndefined();
    expect(report.collections.map((c) => c.collection).sort()).toEqual([...LONG_NAMES].sort());
    const restored = await restoreArchive(await resolveArchive(archive), client, {
      selection: new NamespaceSelection({ renameFrom: [`${db}.*`], renameTo: [`${db}_ours.*`] }),
    });
    expect(restored.failure).toBeUndefined();
    for (const name of LONG_NAMES) {
      expect(await rawDocuments(client, `${db}_ours`, name), name).toEqual(
        await rawDocuments(client, db, name),
      );
    }
  });
});
