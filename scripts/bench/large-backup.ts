import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { measure, type Measurement } from "./measure";
import type { SectionOptions } from "./sections";

const root = resolve(__dirname, "../..");
const run = promisify(execFile);
const cli = join(root, "bin/atlas-ops.mjs");
const SMALL_TMP_MB = 64;

export interface LargeBackupResult {
  backup: Measurement;
  /** `atlas-ops verify` of the archive (what the verify job does per archive). */
  verify: Measurement;
  /** How TMPDIR was bounded: a tmpfs of 64 MB, or why it could not be. */
  tmpdir: string;
  /** Entries of ours found in TMPDIR afterwards (none expected). */
  leftInTmp: string[];
  archiveBytes: number;
  /** The stock restore of the archive: documents and digest the bench server counted on insert. */
  restored: { documents: number; digestMatches: boolean };
}

/**
 * The acceptance run of a single large collection: `atlas-ops backup` of the bench server's one collection
 * with TMPDIR on a 64 MB file system (a backup that spooled would fail), then the guide's restore with the
 * stock tools (`tar -xzf`, then `mongorestore` into a fresh database of the bench server, which digests what
 * it is sent): the digest must be the source's.
 */
export async function benchLargeBackup(options: SectionOptions): Promise<LargeBackupResult> {
  const { server } = options;
  const work = await mkdtemp(join(tmpdir(), "atlas-ops-bench-large-"));
  const small = join(work, "tmp");
  await mkdir(small);
  let mounted = false;
  let tmpdirNote: string;
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${SMALL_TMP_MB}m`, "tmpfs", small]);
    mounted = true;
    tmpdirNote = `TMPDIR on a ${SMALL_TMP_MB} MB tmpfs`;
  } catch (error) {
    tmpdirNote = `TMPDIR not size-limited (mount refused: ${(error as { stderr?: string }).stderr?.trim() ?? error})`;
  }
  const client = await connectMongo(server.uri, { appName: "atlas-ops/bench" });
  try {
    const backups = join(work, "backups");
    const backup = await measure(
      process.execPath,
      [cli, "backup", "--uri", server.uri, "--to", backups, "--db", server.db, "--json"],
      root,
      { ...process.env, TMPDIR: small },
    );
    const report = JSON.parse(backup.stdout) as { documents: number; name: string; bytes: number };
    if (report.documents !== server.documents) {
      throw new Error(`atlas-ops backed up ${report.documents} of ${server.documents} documents`);
    }
    const leftInTmp = (await readdir(small)).filter((name) => name.startsWith("atlas-ops-"));
    const archive = join(backups, "daily", `${report.name}.tar.gz`);
    const verify = await measure(process.execPath, [cli, "verify", archive, "--json"], root);
    const extracted = join(work, "extracted");
    await mkdir(extracted);
    await run("tar", ["-xzf", archive, "-C", extracted]);
    const into = `bench_large_${process.pid}`;
    await run(options.mongorestore, [
      `--uri=${server.uri}`,
      `--nsFrom=${server.db}.*`,
      `--nsTo=${into}.*`,
      "--quiet",
      join(extracted, report.name),
    ]);
    const inserted = await client.db(into).command({ benchInserted: "orders" });
    await client.db(into).dropDatabase();
    return {
      backup,
      verify,
      tmpdir: tmpdirNote,
      leftInTmp,
      archiveBytes: report.bytes,
      restored: {
        documents: Number(inserted.documents),
        digestMatches: inserted.documentsDigest === options.sourceDigest,
      },
    };
  } finally {
    await client.close().catch(() => undefined);
    if (mounted) await run("umount", [small]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}
