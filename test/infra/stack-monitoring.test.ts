import { beforeAll, describe, expect, it } from "vitest";
import { bucketsArePrivate, RULES, secretsRotate, type StackResource } from "../../policy/rules";
import { ofType, type RecordedResource } from "./mocks";
import { runStack } from "./stack-run";

let resources: RecordedResource[];
beforeAll(async () => {
  resources = (await runStack()).resources;
});

describe("monitoring", () => {
  const alarm = (name: string) =>
    ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").find((a) => a.inputs.name === name)?.inputs;

  it("alarms on a down site in 2 of 3 periods, counting missing probes as down", () => {
    expect(alarm("opendev-health-down")).toMatchObject({
      metricName: "HealthCheckUp",
      namespace: "AtlasOps",
      dimensions: { service: "atlas-ops", App: "opendev", Job: "health-check" },
      period: 300,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "breaching",
    });
    expect(alarm("opendev-health-latency-p95")).toMatchObject({ extendedStatistic: "p95", threshold: 2000 });
    expect(alarm("opendev-tls-certificate-expiring")).toMatchObject({
      metricName: "TlsCertDaysLeft",
      threshold: 14,
    });
  });

  it("treats a missing daily backup as a missed run, and watches every dead-letter queue", () => {
    expect(alarm("opendev-backup-missed-run")).toMatchObject({
      metricName: "BackupSucceeded",
      period: 3600,
      evaluationPeriods: 25,
      datapointsToAlarm: 25,
      treatMissingData: "breaching",
    });
    expect(alarm("opendev-newest-daily-backup-too-old")).toMatchObject({
      metricName: "NewestBackupAgeHours",
      dimensions: { service: "atlas-ops", App: "opendev", Job: "verify-backup", Kind: "daily" },
      threshold: 25,
    });
    const dlqAlarms = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").filter(
      (a) => a.inputs.namespace === "AWS/SQS",
    );
    expect(dlqAlarms.map((a) => a.inputs.dimensions.QueueName).sort()).toEqual(
      ofType(resources, "aws:sqs/queue:Queue")
        .map((q) => q.inputs.name)
        .sort(),
    );
    expect(
      dlqAlarms.every(
        (a) => a.inputs.threshold === 0 && a.inputs.comparisonOperator === "GreaterThanThreshold",
      ),
    ).toBe(true);
  });

  it("sends rotation failures to the security topic and storage alarms against the disk size", () => {
    const topics = Object.fromEntries(
      ofType(resources, "aws:sns/topic:Topic").map((t) => [t.inputs.name, t.state.arn]),
    );
    expect(alarm("opendev-rotate-mongodb-password-failed")?.alarmActions).toEqual([
      topics["opendev-security-alerts"],
    ]);
    expect(alarm("opendev-restore-test-failed")?.alarmActions).toEqual([topics["opendev-technical-alerts"]]);
    const storage = alarm("opendev-database-storage-high");
    expect(storage?.threshold).toBe(Math.round(10 * 1024 ** 3 * 0.8));
    expect(storage?.metricQueries[0]).toMatchObject({ id: "total", expression: "m0 + m1", returnData: true });
    const subscriptions = ofType(resources, "aws:sns/topicSubscription:TopicSubscription").map((s) => [
      s.inputs.topic,
      s.inputs.endpoint,
    ]);
    expect(subscriptions).toEqual([
      [topics["opendev-technical-alerts"], "ops@example.com"],
      [topics["opendev-security-alerts"], "security@example.com"],
    ]);
  });

  it("builds one dashboard with health, backups, restore, growth and Lambda widgets", () => {
    const body = JSON.parse(ofType(resources, "aws:cloudwatch/dashboard:Dashboard")[0]?.inputs.dashboardBody);
    const titles = body.widgets.map((w: { properties: { title: string } }) => w.properties.title);
    expect(titles).toEqual([
      "Health check (1 = up)",
      "Health check latency (ms)",
      "Atlas primary: CPU % and resident memory (MB)",
      "Atlas primary: connections and operations per second",
      "Atlas primary: query targeting (scanned per returned) and disk",
      "TLS certificate days left",
      "Backup size and documents",
      "Newest backup age, hours (RPO)",
      "Restore test: duration ms (RTO) and restored backup age",
      "Database size (bytes)",
      "New documents per day",
      "Security review (weekly findings)",
      "Lambda errors",
      "Lambda duration (ms, max)",
    ]);
    expect(JSON.stringify(body)).toContain('"Collection","orders"');
  });
});

describe("the policy pack on the prod stack", () => {
  const asStack = (list: RecordedResource[]): StackResource[] =>
    list.map((r) => ({ type: r.type, name: r.name, props: r.state }));

  it.each(RULES.map((r) => [r.name, r]))("%s passes", (_name, { rule }) => {
    expect(rule(asStack(resources))).toEqual([]);
  });

  it("fails once a guard is removed from the real stack", () => {
    const withoutBlock = resources.filter(
      (r) => r.type !== "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    );
    expect(bucketsArePrivate(asStack(withoutBlock))).toHaveLength(1);
    const withoutRotation = resources.filter(
      (r) => r.type !== "aws:secretsmanager/secretRotation:SecretRotation",
    );
    // 3 database + 2 application secrets lose their rotation; the stack-owned Atlas admin secret stays fine.
    expect(secretsRotate(asStack(withoutRotation))).toHaveLength(5);
  });
});
