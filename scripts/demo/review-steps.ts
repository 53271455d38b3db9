import { DeleteSecretCommand } from "@aws-sdk/client-secrets-manager";
import type { PerformanceReviewResult } from "../../lambdas/performance-review/handler";
import type { SecurityReview } from "../../lambdas/core/security/security-review";
import { createSecret, createTopicWithQueue, secretsClient } from "../../test/lambdas/support/aws";
import { clusterNodes, startAtlasReviewFixture } from "../../test/lambdas/support/atlas-reviews";
import { bucketChange, secretRead, startFakeCloudTrail } from "../../test/support/fake-cloudtrail";
import { sentryIssue, startFakeSentry, type FakeSentry } from "../../test/support/fake-sentry-api";
import { commonEnv, type DrillContext } from "./context";
import { LocalLambda, type Env } from "./lambda";
import { check, count } from "./steps";

/**
 * The chores the guide left to a person, run by their real handlers. Atlas' access history, events,
 * measurements and Performance Advisor, CloudTrail's event history and Sentry are SaaS (or, for
 * CloudTrail, missing from moto): the drill serves them from the same contract stand-ins the tests use,
 * seeded with a week that has something to find.
 */
const HOUR = 3600_000;
const ago = (hours: number) => new Date(Date.now() - hours * HOUR);
const ACCOUNT = "123456789012";

export async function runReviews(context: DrillContext): Promise<string[]> {
  const { resources } = context;
  const atlas = await startAtlasReviewFixture([
    "GROUP_READ_ONLY",
    "GROUP_MONITORING_ADMIN",
    "GROUP_OBSERVABILITY_VIEWER",
  ]);
  const trail = await startFakeCloudTrail();
  const securityTopic = await createTopicWithQueue(`${resources.database}-security-${resources.run}`);
  let mail: string[] = [];
  try {
    atlas.state.processes.push(...clusterNodes());
    const primary = atlas.state.processes.find((p) => p.typeName === "REPLICA_PRIMARY")!.id;
    for (let i = 0; i < 40; i++) {
      atlas.state.accessLogs.push({
        authResult: false,
        username: "admin",
        ipAddress: "203.0.113.66",
        timestamp: ago(20 + i / 10).toISOString(),
      });
    }
    atlas.state.accessLogs.push({
      authResult: true,
      username: resources.credentials.app.username,
      ipAddress: "10.20.1.5",
      timestamp: ago(1).toISOString(),
    });
    atlas.state.events.push({
      id: "65a1b2c3d4e5f60718293a4b",
      created: ago(30).toISOString(),
      eventTypeName: "NETWORK_PERMISSION_ENTRY_ADDED",
      username: "intern@example.com",
      remoteAddress: "198.51.100.4",
      raw: { cidrBlock: "0.0.0.0/0" },
    });
    const jobRole = `arn:aws:iam::${ACCOUNT}:role/opendev-backup-role`;
    trail.events.push(
      secretRead("read-1", ago(2), jobRole, resources.secrets.backup),
      secretRead("read-2", ago(50), `arn:aws:iam::${ACCOUNT}:role/laptop-admin`, resources.secrets.app),
      bucketChange(
        "policy-1",
        ago(60),
        "PutBucketPolicy",
        resources.bucket,
        `arn:aws:iam::${ACCOUNT}:user/someone`,
      ),
    );
    const hourly = (name: string, value: (hour: number) => number) => ({
      name,
      dataPoints: Array.from({ length: 24 }, (_, h) => ({
        timestamp: ago(24 - h).toISOString(),
        value: value(h),
      })),
    });
    atlas.state.measurements.set(primary, [
      hourly("PROCESS_NORMALIZED_CPU_USER", (h) => 8 + (h % 6)),
      hourly("MEMORY_RESIDENT", () => 1024),
      hourly("CONNECTIONS", (h) => 30 + (h % 5)),
      hourly("OPCOUNTER_QUERY", () => 12),
      hourly("QUERY_TARGETING_SCANNED_OBJECTS_PER_RETURNED", () => 950),
    ]);
    atlas.state.diskMeasurements.set(primary, [
      hourly("DISK_PARTITION_IOPS_TOTAL", () => 40),
      hourly("DISK_PARTITION_LATENCY_READ", () => 1.2),
    ]);
    atlas.state.advisor.set(primary, {
      shapes: [{ id: "s1", namespace: `${resources.database}.orders`, avgMs: 380, count: 2400 }],
      suggestedIndexes: [
        {
          id: "i1",
          namespace: `${resources.database}.orders`,
          index: [{ userId: 1 }, { createdAt: -1 }],
          impact: ["s1"],
        },
      ],
    });

    const env: Env = { ...commonEnv(context), ...atlas.env, AWS_ENDPOINT_URL_CLOUDTRAIL: trail.url };
    const security = await LocalLambda.load(
      "security-review",
      {
        ...env,
        SECURITY_TOPIC_ARN: securityTopic.topicArn,
        REVIEWED_SECRET_ARNS: Object.values(resources.secrets).join(","),
        EXPECTED_SECRET_READERS: jobRole,
        BACKUP_BUCKET: resources.bucket,
      },
      context.logFile,
    );
    await context.steps.run("weekly security review", async () => {
      const review = await security.succeed<SecurityReview>({ source: "aws.scheduler" });
      const [received] = await securityTopic.receive(10);
      check(received?.Subject === review.subject, "the security review did not reach the security topic");
      check(
        review.figures.FailedLogins === 40,
        `counted ${review.figures.FailedLogins} failed logins, 40 were seeded`,
      );
      check(review.figures.UnexpectedSecretReads === 1, "the laptop's secret read was not flagged");
      check(
        review.figures.AccessListOpened === 1 && review.figures.BackupBucketChanges === 1,
        "a seeded change was missed",
      );
      mail = received!.Message.trimEnd().split("\n");
      return `${review.findings.length} findings mailed to the security topic: ${review.findings.join("; ")}`;
    });

    const performance = await LocalLambda.load(
      "performance-review",
      {
        ...env,
        REPORT_TOPIC_ARN: resources.topic.topicArn,
        MONGODB_SECRET_ID: resources.secrets.backup,
        STATS_DATABASES: resources.database,
      },
      context.logFile,
    );
    await context.steps.run("performance review, daily Atlas measurements", async () => {
      const result = await performance.succeed<PerformanceReviewResult>({ source: "aws.scheduler" });
      check(result.review === "daily" && result.figures.length === 7, "expected 7 measured figures");
      return `${count(result.figures.reduce((n, f) => n + f.values.length, 0))} hourly values of ${result.process} as CloudWatch metrics (${result.figures.map((f) => f.metric).join(", ")})`;
    });
    await context.steps.run("performance review, monthly mail", async () => {
      const result = await performance.succeed<PerformanceReviewResult>({ review: "monthly" });
      check(result.review === "monthly", "not the monthly review");
      const [received] = await resources.topic.receive(10);
      check(
        !!received?.Message.includes("createIndex({ userId: 1, createdAt: -1 })"),
        "the suggested index is not in the mail",
      );
      return `"${received!.Subject}" (unused indexes: ${result.figures.UnusedIndexes}; FerretDB has no $indexStats, Atlas does)`;
    });
  } finally {
    await trail.close();
    await atlas.atlas.close();
    await secretsClient().send(
      new DeleteSecretCommand({ SecretId: atlas.secretId, ForceDeleteWithoutRecovery: true }),
    );
  }
  return mail;
}

/** The application's Sentry stand-in for the daily report's digest, and the environment that points at it. */
export async function startSentryStandIn(
  context: DrillContext,
): Promise<{ sentry: FakeSentry; env: Env; remove: () => Promise<void> }> {
  const token = `sntrys_demo_${context.resources.run}`;
  const sentry = await startFakeSentry({ organization: "opendev", project: "opendev-web", token });
  sentry.issues.push(
    sentryIssue(
      7001,
      "TypeError: Cannot read properties of undefined (reading 'items')",
      [0, 3, 9, 14, 2],
      3,
    ),
    sentryIssue(7002, "MongoServerSelectionError: Server selection timed out after 30000 ms", [1, 0, 1], 200),
  );
  const secretId = await createSecret(`${context.resources.database}/${context.resources.run}/sentry-token`, {
    token,
  });
  return {
    sentry,
    env: {
      SENTRY_API_URL: sentry.url,
      SENTRY_ORG: "opendev",
      SENTRY_PROJECT: "opendev-web",
      SENTRY_TOKEN_SECRET_ID: secretId,
    },
    remove: async () => {
      await sentry.close();
      await secretsClient().send(
        new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }),
      );
    },
  };
}
