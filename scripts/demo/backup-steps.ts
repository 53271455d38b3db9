import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pipeline } from "node:stream/promises";
import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import type { BackupOutcome } from "../../lambdas/backup/handler";
import type { VerifyBackupOutcome } from "../../lambdas/verify-backup/handler";
import type { RestoreTestResult } from "../../lambdas/core/restore-test/restore-test";
import { S3Target } from "../../lambdas/adapters/s3-target";
import { archiveName } from "../../lambdas/core/archive/names";
import { redactSecrets } from "../../lambdas/core/mongo/uri";
import { isFerretDb } from "../../test/support/seed";
import { compareDatabases } from "./compare";
import { commonEnv, type DrillContext } from "./context";
import { LocalLambda } from "./lambda";
import { check, count, kilobytes } from "./steps";

/** Daily and weekly backups with the real backup handler, each also copied to ./backups/. */
export async function runBackups(context: DrillContext): Promise<void> {
  const { resources } = context;
  const backup = await LocalLambda.load(
    "backup",
    {
      ...commonEnv(context),
      MONGODB_SECRET_ID: resources.secrets.backup,
      BACKUP_BUCKET: resources.bucket,
      BACKUP_PREFIX: "",
      // Only the application's database: the shared test server holds the tests' databases too.
      BACKUP_DATABASES: resources.database,
    },
    context.logFile,
  );
  let previousName = "";
  for (const kind of ["daily", "weekly"] as const) {
    await context.steps.run(`${kind} backup`, async () => {
      // The schedule's event names the archive by its scheduled time (whole seconds); two backups started in
      // the same second would get one name, so the second one waits for the next second.
      let scheduledTime = wholeSecond(new Date());
      while (archiveName("opendev", scheduledTime) === previousName) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        scheduledTime = wholeSecond(new Date());
      }
      const outcome = await backup.succeed<BackupOutcome>({
        kind,
        scheduledTime: scheduledTime.toISOString(),
        source: "aws.scheduler",
      });
      previousName = outcome.name;
      check(!outcome.alreadyDone, `${outcome.name} already existed: the drill's bucket should be new`);
      check(outcome.documents > 0, `${outcome.name} holds no documents`);
      context.backups[kind] = outcome;
      const local = await copyToLocalFolder(context, kind, outcome.name);
      context.localCopies.push(local);
      return [
        `${outcome.name}.tar.gz, ${count(outcome.documents)} documents, ${kilobytes(outcome.bytes)}, ` +
          `backup took ${(outcome.durationMs / 1000).toFixed(1)} s`,
        `stored at ${outcome.url}; copied to ${relative(context.root, local)} (SHA-256 matches the manifest)`,
      ];
    });
  }
}

/** Downloads an archive to ./backups/<name>.tar.gz, checking its SHA-256 against the manifest. */
async function copyToLocalFolder(
  context: DrillContext,
  kind: "daily" | "weekly",
  name: string,
): Promise<string> {
  const target = new S3Target({ bucket: context.resources.bucket, prefix: "" });
  const key = `${kind}/${name}.tar.gz`;
  const manifest = await target.readSidecar(key);
  const expected = manifest?.archive?.sha256;
  check(typeof expected === "string", `the sidecar of ${key} has no archive SHA-256`);
  const folder = join(context.root, "backups");
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `${name}.tar.gz`);
  const hash = createHash("sha256");
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline((await target.openArchive(key)).stream, hashing, createWriteStream(file));
  const actual = hash.digest("hex");
  check(actual === expected, `${file}: SHA-256 ${actual} differs from the manifest's ${expected}`);
  return file;
}

export async function runVerify(context: DrillContext): Promise<void> {
  const { resources } = context;
  const verify = await LocalLambda.load(
    "verify-backup",
    {
      ...commonEnv(context),
      BACKUP_BUCKET: resources.bucket,
      BACKUP_PREFIX: "",
      VERIFY_MAX_AGE_HOURS: "168",
    },
    context.logFile,
  );
  await context.steps.run("verify backups", async () => {
    const outcome = await verify.succeed<VerifyBackupOutcome>({ source: "aws.scheduler" });
    check(
      outcome.verified.length === 2,
      `expected the daily and the weekly archive, verified ${outcome.verified.length}`,
    );
    check(
      outcome.verified.every((report) => report.ok),
      "an archive failed verification",
    );
    const documents = outcome.verified.map((report) => count(report.documents)).join(" + ");
    return `${outcome.verified.length} archives read back and checked against their manifests (${documents} documents); newest daily is ${outcome.newestAgeHours.daily ?? "?"} h old`;
  });
}

export async function runRestoreTest(context: DrillContext): Promise<void> {
  const { resources } = context;
  const restoreTest = await LocalLambda.load(
    "restore-test",
    {
      ...commonEnv(context),
      MONGODB_SECRET_ID: resources.secrets.restoreTest,
      BACKUP_BUCKET: resources.bucket,
      BACKUP_PREFIX: "",
      RESTORE_TEST_KIND: "daily",
      PRODUCTION_MONGODB_HOSTS: resources.credentials.app.host,
      PRODUCTION_DATABASE: resources.database,
    },
    context.logFile,
  );
  await context.steps.run("restore test", async () => {
    const result = await restoreTest.succeed<RestoreTestResult>({ source: "aws.scheduler" });
    check(result.ok, `restore test failed: ${result.reason ?? "unknown reason"}`);
    check(
      result.backup?.name === context.backups.daily?.name,
      `restored ${result.backup?.name}, not the newest daily`,
    );
    const mismatched = result.collections.filter(
      (c) => !c.digestMatches || c.documents !== c.expectedDocuments,
    );
    check(
      mismatched.length === 0,
      `restored data differs in ${mismatched.map((c) => c.namespace).join(", ")}`,
    );
    check(result.scratchDropped, `scratch databases ${result.scratchDatabases.join(", ")} were not dropped`);
    return [
      `${result.backup!.name} restored into ${result.scratchDatabases.join(", ")}, ${count(result.documents)} documents ` +
        `in ${result.collections.length} collections`,
      `counts, document digests and indexes equal the manifest; restore took ${(result.restoreDurationMs / 1000).toFixed(1)} s (RTO); scratch database dropped`,
    ];
  });
}

/** A second, independent check: a copy restored with the CLI is compared with the live data byte for byte. */
export async function runRestoredCopyCheck(context: DrillContext): Promise<void> {
  const daily = context.backups.daily!;
  const copy = `${context.resources.database}_restored_${context.resources.run}`;
  context.scratchDatabases.push(copy);
  await context.steps.run("restore a copy with `atlas-ops restore`", async () => {
    await runCommand(
      process.execPath,
      [
        join(context.root, "bin", "atlas-ops.mjs"),
        "restore",
        daily.url,
        "--nsFrom",
        `${context.resources.database}.$collection$`,
        "--nsTo",
        `${copy}.$collection$`,
      ],
      context,
      { MONGODB_URI: context.adminUri },
    );
    const compared = await compareDatabases(context.admin, context.resources.database, copy);
    return `restored data equals the source: ${compared.collections} collections, ${count(compared.documents)} documents byte for byte, ${compared.indexes} indexes`;
  });
}

/** The guide's own recipe on the local copy: tar -xzf, then the stock mongorestore on the extracted folder. */
export async function runGuideRestore(context: DrillContext): Promise<void> {
  const archive = context.localCopies[0]!;
  const name = context.backups.daily!.name;
  const scratch = `${context.resources.database}_guide_${context.resources.run}`;
  context.scratchDatabases.push(scratch);
  await context.steps.run("guide recipe: tar -xzf + mongorestore", async () => {
    const work = mkdtempSync(join(tmpdir(), "atlas-ops-demo-"));
    // FerretDB refuses the "ns" index option that mongorestore 100.11 sends with every index; on MongoDB and
    // Atlas the indexes are restored too.
    const ferretDb = await isFerretDb(context.admin);
    try {
      await runCommand("tar", ["-xzf", archive, "-C", work], context);
      await runCommand(
        process.env.MONGORESTORE!,
        [
          `--uri=${context.adminUri}`,
          `--nsFrom=${context.resources.database}.$collection$`,
          `--nsTo=${scratch}.$collection$`,
          ...(ferretDb ? ["--noIndexRestore"] : []),
          join(work, name) + "/",
        ],
        context,
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const compared = await compareDatabases(context.admin, context.resources.database, scratch, {
      indexes: !ferretDb,
    });
    const indexes = ferretDb
      ? "indexes left out (FerretDB refuses mongorestore's index option)"
      : `${compared.indexes} indexes`;
    return [
      `stock mongorestore restored ${relative(context.root, archive)} (extracted with tar -xzf) into ${scratch}`,
      `restored data equals the source: ${compared.collections} collections, ${count(compared.documents)} documents byte for byte, ${indexes}`,
    ];
  });
}

/** Runs a program, its output to the drill's log; fails with the tail of its output. Arguments are not logged
 * (they may hold a connection string). */
function runCommand(
  program: string,
  args: string[],
  context: DrillContext,
  env: Record<string, string> = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: context.root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Buffer): void => {
      output = redactSecrets(output + chunk.toString("utf8")).slice(-4000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (error) => reject(new Error(`could not run ${program}: ${error.message}`)));
    child.on("close", (code) => {
      const log = createWriteStream(context.logFile, { flags: "a" });
      log.end(`${program.split("/").pop()} exited ${code}\n${output}\n`);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${program.split("/").pop()} exited ${code}: ${output.trim().split("\n").slice(-3).join(" | ")}`,
          ),
        );
    });
  });
}

function wholeSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}
