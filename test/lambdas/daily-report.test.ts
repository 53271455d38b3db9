import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from "@aws-sdk/client-cloudwatch";
import { beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "../support/env";
import { createTopicWithQueue, type TopicWithQueue } from "./support/aws";
import { coldStart, invoke, type Env } from "./support/invoke";

const HOUR = 3600_000;
const NAMESPACE = "AtlasOpsReportTest";
const cloudWatch = new CloudWatchClient({});
let topic: TopicWithQueue;

/** Puts data points as the jobs' EMF lines would have created them. */
async function record(app: string, job: string, points: [string, number, number, Record<string, string>?][]) {
  const MetricData: MetricDatum[] = points.map(([name, value, hoursAgo, extra]) => ({
    MetricName: name,
    Value: value,
    Timestamp: new Date(Date.now() - hoursAgo * HOUR),
    Dimensions: Object.entries({ service: "atlas-ops", App: app, Job: job, ...extra }).map(
      ([Name, Value]) => ({
        Name,
        Value,
      }),
    ),
  }));
  await cloudWatch.send(new PutMetricDataCommand({ Namespace: NAMESPACE, MetricData }));
}

beforeAll(async () => {
  topic = await createTopicWithQueue(uniqueName("report"));
});

async function report(env: Env) {
  const handler = await coldStart("lambdas/daily-report/handler", {
    METRICS_NAMESPACE: NAMESPACE,
    REPORT_TOPIC_ARN: topic.topicArn,
    ...env,
  });
  return invoke(handler, { source: "aws.scheduler" });
}

describe("daily-report handler", () => {
  it("sends one readable message with the day's figures read back from CloudWatch", async () => {
    const app = uniqueName("shop");
    await record(app, "backup", [
      ["BackupSucceeded", 1, 20],
      ["BackupBytes", 3 * 1024 * 1024, 20],
      ["BackupSucceeded", 0, 10],
    ]);
    await record(app, "verify-backup", [
      ["BackupVerified", 1, 72],
      ["NewestBackupAgeHours", 5, 72, { Kind: "daily" }],
      ["NewestBackupAgeHours", 100, 72, { Kind: "weekly" }],
    ]);
    await record(app, "health-check", [
      ...Array.from({ length: 9 }, (_, i) => ["HealthCheckUp", 1, i + 1] as [string, number, number]),
      ["HealthCheckUp", 0, 11],
      ["HealthCheckLatencyMs", 120, 2],
    ]);
    await record(app, "db-stats", [
      ["NewDocuments", 42, 2, { Database: "shop", Collection: "orders" }],
      ["DataSizeBytes", 1100 * 1024, 2, { Database: "shop" }],
      ["DataSizeBytes", 1000 * 1024, 7 * 24, { Database: "shop" }],
      ["IndexUsageSkipped", 1, 2, { Database: "shop" }],
      ["IndexUsageSkipped", 0, 2, { Database: "analytics" }],
    ]);
    await record(app, "restore-test", [
      ["RestoreTestSucceeded", 1, 240],
      ["RestoreDurationMs", 95_000, 240],
      ["RestoredBackupAgeHours", 12, 240],
    ]);

    const run = await report({ APP_NAME: app, REPORT_TIME_ZONE: "Europe/Paris" });
    expect(run.error).toBeUndefined();
    const messages = await topic.receive();
    expect(messages).toHaveLength(1);
    const [sent] = messages;
    expect(sent!.Subject).toMatch(
      new RegExp(`^\\[${app}\\] maintenance report \\d{4}-\\d{2}-\\d{2}: 2 problem\\(s\\)$`),
    );
    const text = sent!.Message;
    expect(text).toMatch(/Needs attention:\n {2}- 1 backup run\(s\) failed\n {2}- uptime 90\.00%\n/);
    expect(text).toContain("made: 1, failed: 1");
    expect(text).toContain("latest archive: 3.0 MiB");
    expect(text).toMatch(/last verification: passed \(\d{4}-\d{2}-\d{2} \d{2}:\d{2} GMT\+[12]\)/);
    expect(text).toContain("newest daily backup at verification: 5.0 h old");
    expect(text).toContain("newest weekly backup at verification: 4.2 days old");
    expect(text).toContain("newest monthly backup at verification: unknown");
    expect(text).toContain("uptime: 90.00% of 10 checks");
    // moto cannot compute percentiles; CloudWatch does.
    expect(text).toMatch(/p95 latency: (n\/a|120 ms)/);
    expect(text).toContain("new in shop.orders: 42");
    expect(text).toContain("shop: 1.1 MiB (+10.0% on last week)");
    expect(text).toContain("shop: unused-index check skipped ($indexStats refused");
    expect(text).not.toContain("analytics: unused-index check skipped");
    expect(text).toMatch(/passed \(.*\), restore took 95\.0 s, backup was 12\.0 h old/);
  });

  it("says what is missing when no job has recorded anything", async () => {
    const run = await report({ APP_NAME: uniqueName("empty") });
    expect(run.error).toBeUndefined();
    const [sent] = await topic.receive();
    expect(sent!.Subject).toMatch(/: 3 problem\(s\)$/);
    expect(sent!.Message).toContain("no backup succeeded in the last 24 hours");
    expect(sent!.Message).toContain("no health checks recorded");
    expect(sent!.Message).toContain("no restore test in the last 35 days");
  });

  it("reports the sidecars the backup or verification had to skip (issue 13 item 14)", async () => {
    const app = uniqueName("shop");
    await record(app, "backup", [["UnreadableSidecars", 1, 3]]);
    await record(app, "verify-backup", [["UnreadableSidecars", 2, 30]]);
    const run = await report({ APP_NAME: app });
    expect(run.error).toBeUndefined();
    const [sent] = await topic.receive();
    expect(sent!.Message).toContain("  unreadable sidecars skipped: 2 (see the job's log for which)\n");
    expect(sent!.Message).toMatch(
      /Needs attention:\n( {2}- .*\n)* {2}- 2 backup sidecar\(s\) cannot be read\n/,
    );
  });

  it("fails naming the topic when it does not exist", async () => {
    const missing = topic.topicArn.replace(/:[^:]+$/, ":no-such-topic");
    const run = await report({ APP_NAME: uniqueName("x"), REPORT_TOPIC_ARN: missing });
    expect(run.error?.message).toMatch(new RegExp(`publishing the report to ${missing} failed: NotFound`));
  });

  it("rejects a bad configuration naming the variable", async () => {
    const tz = await report({ REPORT_TIME_ZONE: "Mars/Olympus" });
    expect(tz.error?.message).toMatch(/REPORT_TIME_ZONE must be an IANA time zone/);
    const arn = await report({ REPORT_TOPIC_ARN: "my-topic" });
    expect(arn.error?.message).toMatch(/REPORT_TOPIC_ARN must be an SNS topic ARN/);
  });
});
