import type { HealthProbeResult } from "../../lambdas/core/probes/health";
import type { DatabaseStatsReport } from "../../lambdas/core/probes/db-stats";
import type { DailyReport } from "../../lambdas/core/report/daily-report";
import { formatBytes } from "../../lambdas/core/report/daily-report";
import { commonEnv, type DrillContext } from "./context";
import type { HealthStandIn } from "./health-stand-in";
import { LocalLambda, type Env } from "./lambda";
import { check, count } from "./steps";

export async function loadHealthCheck(context: DrillContext, standIn: HealthStandIn): Promise<LocalLambda> {
  return LocalLambda.load(
    "health-check",
    {
      ...commonEnv(context),
      HEALTH_CHECK_URL: standIn.url,
      HEALTH_CHECK_TIMEOUT_MS: "5000",
      HEALTH_CHECK_EXPECT: "status=ok",
    },
    context.logFile,
  );
}

export async function runHealthyCheck(
  context: DrillContext,
  healthCheck: LocalLambda,
  title: string,
): Promise<void> {
  await context.steps.run(title, async () => {
    const result = await healthCheck.succeed<HealthProbeResult>({ source: "aws.scheduler" });
    check(result.up, `${result.url} is not up`);
    return `up: ${result.url} answered ${result.statusCode ?? "?"} with status=ok in ${Math.round(result.latencyMs)} ms`;
  });
}

/** The failure path: the stand-in answers 503, the handler must throw (Lambda's Errors metric, alarm). */
export async function runUnhealthyCheck(
  context: DrillContext,
  healthCheck: LocalLambda,
  standIn: HealthStandIn,
): Promise<void> {
  await context.steps.run("health check, app made unhealthy on purpose", async () => {
    standIn.broken = true;
    try {
      const run = await healthCheck.invoke<HealthProbeResult>({ source: "aws.scheduler" });
      check(!!run.error, "the health check passed although the app answered 503");
      return [
        "failed as expected (HealthCheckUp = 0, the handler throws so Lambda counts an error and the alarm fires)",
        `handler error: ${run.error.message}`,
      ];
    } finally {
      standIn.broken = false;
    }
  });
}

export async function runDbStats(context: DrillContext, ordersLastDay: number): Promise<void> {
  const { resources } = context;
  const dbStats = await LocalLambda.load(
    "db-stats",
    {
      ...commonEnv(context),
      MONGODB_SECRET_ID: resources.secrets.backup,
      STATS_DATABASES: resources.database,
      NEW_DOCUMENTS_COLLECTIONS: `${resources.database}.orders:createdAt,${resources.database}.users`,
    },
    context.logFile,
  );
  await context.steps.run("database statistics", async () => {
    const report = await dbStats.succeed<DatabaseStatsReport>({ source: "aws.scheduler" });
    const figures = report.databases.find((db) => db.database === resources.database);
    check(!!figures, `no statistics for database ${resources.database}`);
    const newOrders = report.newDocuments.find((figure) => figure.collection === "orders")?.documents;
    const newUsers = report.newDocuments.find((figure) => figure.collection === "users")?.documents;
    check(
      newOrders === ordersLastDay,
      `db-stats counted ${newOrders} new orders, the seed made ${ordersLastDay}`,
    );
    return `${resources.database}: ${count(figures.documents)} documents in ${figures.collections} collections, data ${formatBytes(figures.dataSizeBytes)}, indexes ${formatBytes(figures.indexSizeBytes)}; new in the last 24 h: ${count(newOrders)} orders, ${count(newUsers ?? 0)} users`;
  });
}

/** The report as a person receives it: read from the SQS queue subscribed to the report's SNS topic. */
export async function runDailyReport(context: DrillContext, sentryEnv: Env = {}): Promise<string[]> {
  const { resources } = context;
  const dailyReport = await LocalLambda.load(
    "daily-report",
    {
      ...commonEnv(context),
      REPORT_TOPIC_ARN: resources.topic.topicArn,
      REPORT_TIME_ZONE: "UTC",
      ...sentryEnv,
    },
    context.logFile,
  );
  let received: { Subject?: string; Message: string } | undefined;
  await context.steps.run("daily report", async () => {
    // moto leaves out data points from the current second (AWS's own ingestion takes longer than that).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const report = await dailyReport.succeed<DailyReport>({ source: "aws.scheduler" });
    const messages = await resources.topic.receive(10);
    check(messages.length === 1, `the report's queue holds ${messages.length} messages, expected 1`);
    received = messages[0]!;
    check(
      received.Subject === report.subject,
      `the queued subject "${received.Subject}" is not the report's`,
    );
    const today = new Date().toISOString().slice(0, 10);
    check(!!received.Subject?.includes(today), `the report's subject does not carry today's date ${today}`);
    const text = received.Message;
    // moto matches metrics by dimensions alone, ignoring the namespace: earlier drills on the same local
    // services add to the counts, so at least this run's figures must be there.
    const made = Number(/made: (\d+), failed: \d+/.exec(text)?.[1] ?? 0);
    check(made >= 2, `the report counts ${made} backups made, this drill made 2`);
    for (const expected of ["last verification: passed", "Restore test\n  passed", "uptime: "]) {
      check(text.includes(expected), `the report lacks "${expected.replace("\n", "\\n")}"`);
    }
    check(text.includes(`new in ${resources.database}.orders: `), "the report lacks the new orders");
    if (sentryEnv.SENTRY_ORG) {
      check(
        text.includes("Application errors (Sentry)\n  events: 30,"),
        "the report lacks the Sentry digest",
      );
    }
    return `received from the SQS queue subscribed to the report topic: "${received.Subject}"`;
  });
  return [`Subject: ${received!.Subject ?? ""}`, "", ...received!.Message.trimEnd().split("\n")];
}
