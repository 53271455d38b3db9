/**
 * `npm run demo [-- --keep]`: the local drill. Brings up the local services (FerretDB on PostgreSQL, moto,
 * mongo-tools), seeds a sample "opendev" database, and runs the real Lambda handlers in the order the
 * schedules would: backups, verification, restore test, health checks, database statistics, both secret
 * rotations, and the daily report as a person receives it. Each step prints one result line; a failure stops
 * the drill with the step and the reason (exit code 1).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { MongoClient } from "mongodb";
import { connectMongo } from "../lambdas/core/mongo/connect";
import {
  runBackups,
  runGuideRestore,
  runRestoredCopyCheck,
  runRestoreTest,
  runVerify,
} from "./demo/backup-steps";
import type { DrillContext } from "./demo/context";
import { startHealthStandIn, type HealthStandIn } from "./demo/health-stand-in";
import { createDemoResources, type DemoResources } from "./demo/local-aws";
import { startLocalServices, type LocalServices } from "./demo/local-services";
import {
  loadHealthCheck,
  runDailyReport,
  runDbStats,
  runHealthyCheck,
  runUnhealthyCheck,
} from "./demo/monitoring-steps";
import { runReviews, startSentryStandIn } from "./demo/review-steps";
import { runAppSecretRotation, runDatabasePasswordRotation } from "./demo/rotation-steps";
import { seedOpendev } from "./demo/seed";
import { count, StepFailed, Steps } from "./demo/steps";
import { lookAroundGuide } from "./demo/guide";

const DATABASE = "opendev";
const root = resolve(__dirname, "..");

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((arg) => arg !== "--keep");
  if (unknown.length) {
    process.stderr.write(`demo: unknown argument ${unknown.join(" ")}\nusage: npm run demo [-- --keep]\n`);
    return 2;
  }
  const keep = argv.includes("--keep");
  const run = randomBytes(3).toString("hex");
  const logDir = join(root, ".services", "logs");
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `demo-${run}.log`);
  const say = (line = ""): void => void process.stdout.write(`${line}\n`);
  const started = Date.now();
  say(`atlas-ops local drill (run ${run}): the real Lambda handlers against local services`);
  say(`handler logs: ${relative(root, logFile)}`);
  say();

  const steps = new Steps();
  let services: LocalServices | undefined;
  let resources: DemoResources | undefined;
  let admin: MongoClient | undefined;
  let app: MongoClient | undefined;
  let standIn: HealthStandIn | undefined;
  let context: DrillContext | undefined;
  let ok = false;
  try {
    await steps.run("local services", async () => {
      services = startLocalServices(root);
      return `FerretDB on PostgreSQL at ${process.env.TEST_FERRETDB_PG_HOSTPORT}, AWS APIs (moto) at ${process.env.AWS_ENDPOINT_URL}${services.startedHere ? "" : " (already running)"}`;
    });
    const adminUri = process.env.TEST_MONGODB_AUTH_URI;
    if (!adminUri) throw new Error("TEST_MONGODB_AUTH_URI is not set (see test/services/README.md)");
    admin = await connectMongo(adminUri, { appName: "atlas-ops/demo" });

    let ordersLastDay = 0;
    await steps.run(`sample "${DATABASE}" database`, async () => {
      const seeded = await seedOpendev(admin!, DATABASE);
      ordersLastDay = seeded.ordersLastDay;
      const parts = Object.entries(seeded.collections).map(([name, n]) => `${count(n)} ${name}`);
      return `${count(seeded.documents)} documents: ${parts.join(", ")}; unique indexes on email, account, session token, order number`;
    });

    await steps.run("local AWS resources", async () => {
      resources = await createDemoResources(DATABASE, run);
      return [
        `bucket ${resources.bucket}; secrets ${resources.secretNames.join(", ")}`,
        `database users ${Object.values(resources.credentials)
          .map((c) => c.username)
          .join(
            ", ",
          )}; report topic ${resources.topic.topicArn} -> SQS queue; Atlas Admin API stand-in at ${resources.atlas.url}`,
      ];
    });

    await steps.run("application stand-in", async () => {
      // The application's own long-lived client, as a Next.js server keeps one per process.
      app = new MongoClient(resources!.credentials.app.MONGODB_URI, { appName: "opendev" });
      await app.db(DATABASE).command({ ping: 1 });
      standIn = await startHealthStandIn(app, DATABASE);
      return `local stand-in for the app's /api/health at ${standIn.url}, connected as ${resources!.credentials.app.username}`;
    });

    context = {
      root,
      resources: resources!,
      admin,
      adminUri,
      app: app!,
      steps,
      logFile,
      scratchDatabases: [],
      backups: {},
      localCopies: [],
    };
    await runBackups(context);
    await runVerify(context);
    await runRestoreTest(context);
    await runRestoredCopyCheck(context);
    await runGuideRestore(context);
    const healthCheck = await loadHealthCheck(context, standIn!);
    await runHealthyCheck(context, healthCheck, "health check");
    await runUnhealthyCheck(context, healthCheck, standIn!);
    await runDbStats(context, ordersLastDay);
    const securityMail = await runReviews(context);
    await runAppSecretRotation(context);
    await runDatabasePasswordRotation(context);
    await runHealthyCheck(context, healthCheck, "health check after the rotations");
    const sentry = await startSentryStandIn(context);
    let report: string[];
    try {
      report = await runDailyReport(context, sentry.env);
    } finally {
      await sentry.remove();
    }
    say();
    say("The weekly security review, as received by the security contacts:");
    for (const line of securityMail) say(`  | ${line}`);
    say();
    say("The daily report, as received:");
    for (const line of report) say(`  | ${line}`);
    say(
      "(The local CloudWatch is moto, which matches metrics by their dimensions and ignores the namespace:",
    );
    say(" drills run earlier on the same services add to these counts. CloudWatch keeps them apart.)");
    ok = true;
  } catch (error) {
    say();
    if (error instanceof StepFailed)
      say(`demo stopped at step ${error.step} (${error.title}): ${error.reason}`);
    else say(`demo stopped: ${error instanceof Error ? error.message : String(error)}`);
    say(`handler logs: ${relative(root, logFile)}`);
  } finally {
    await standIn?.close();
    await app?.close();
    const problems = await cleanUp(admin, context, resources, keep);
    await admin?.close();
    for (const problem of problems) say(`clean-up: ${problem}`);
    if (services?.startedHere && !keep) services.stop();
  }
  if (!ok) return 1;
  say();
  say(`drill passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (keep && context) for (const line of lookAroundGuide(context)) say(line);
  return 0;
}

/** Drops the scratch databases; without --keep also the sample data, the users, secrets and bucket. */
async function cleanUp(
  admin: MongoClient | undefined,
  context: DrillContext | undefined,
  resources: DemoResources | undefined,
  keep: boolean,
): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, work: () => Promise<unknown>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const databases = [...(context?.scratchDatabases ?? []), `restoretest_${DATABASE}`];
  if (!keep) databases.push(DATABASE);
  if (admin)
    for (const db of databases) await attempt(`dropping database ${db}`, () => admin!.db(db).dropDatabase());
  if (keep) await attempt("closing the Atlas Admin API stand-in", () => resources!.atlas.close());
  else if (resources)
    await attempt("removing the run's users, secrets and bucket", () => resources!.remove());
  return problems;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
