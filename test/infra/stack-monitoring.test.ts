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

  it("alarms on a down site in 2 of 3 periods; probes that never ran are the missed-run alarm's", () => {
    expect(alarm("opendev-health-down")).toMatchObject({
      metricName: "HealthCheckUp",
      namespace: "AtlasOps",
      dimensions: { service: "atlas-ops", App: "opendev", Job: "health-check" },
      period: 300,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "notBreaching",
    });
    expect(alarm("opendev-health-latency-p95")).toMatchObject({ extendedStatistic: "p95", threshold: 2000 });
    expect(alarm("opendev-tls-certificate-expiring")).toMatchObject({
      metricName: "TlsCertDaysLeft",
      threshold: 14,
    });
  });

  it("treats a missing daily backup as a missed run, and watches every dead-letter queue", () => {
    const missed = alarm("opendev-backup-missed-run");
    // 24 h + 1 h for the 25-hour autumn day in Europe/Berlin + 60 min slack.
    expect(missed).toMatchObject({ evaluationPeriods: 26, datapointsToAlarm: 26, threshold: 1 });
    expect(missed?.metricQueries[1]).toMatchObject({
      metric: { metricName: "BackupSucceeded", stat: "Maximum", period: 3600 },
    });
    expect(alarm("opendev-newest-daily-backup-too-old")).toMatchObject({
      metricName: "NewestBackupAgeHours",
      dimensions: { service: "atlas-ops", App: "opendev", Job: "verify-backup", Kind: "daily" },
      threshold: 26,
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

  it("starts all green on a fresh deploy, and every alarm turns green by itself once the cause is gone", () => {
    const alarms = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => a.inputs);
    // Before any job ran there is no data at all: nothing may count that as breaching.
    expect(alarms.filter((a) => a.treatMissingData === "breaching").map((a) => a.name)).toEqual([]);

    // Missed runs count an hour only once the stack is alive in it (the health check's invocations).
    const missedRuns = alarms.filter(
      (a) => /-missed-run$/.test(a.name) && a.name !== "opendev-health-check-missed-run",
    );
    expect(missedRuns.map((a) => a.name).sort()).toEqual([
      "opendev-backup-missed-run",
      "opendev-daily-report-missed-run",
      "opendev-db-stats-missed-run",
      "opendev-performance-review-missed-run",
    ]);
    for (const missed of missedRuns) {
      expect(missed.metricQueries[0]).toMatchObject({ expression: "IF(FILL(m1, 0) > 0, FILL(m0, 0), 1)" });
      expect(missed.metricQueries[2].metric).toMatchObject({
        namespace: "AWS/Lambda",
        metricName: "Invocations",
        dimensions: { FunctionName: "opendev-health-check" },
        stat: "Sum",
      });
      expect(missed.treatMissingData).toBe("notBreaching");
    }
    // The clock itself: no invocation at all leaves that alarm without data, which is notified.
    const topics = Object.fromEntries(
      ofType(resources, "aws:sns/topic:Topic").map((t) => [t.inputs.name, t.state.arn]),
    );
    expect(alarm("opendev-health-check-missed-run")).toMatchObject({
      namespace: "AWS/Lambda",
      metricName: "Invocations",
      treatMissingData: "missing",
      insufficientDataActions: [topics["opendev-technical-alerts"]],
    });

    // A dead letter alarms once, when it arrives, not for the 14 days it waits in the queue.
    const dlq = alarm("opendev-health-check-dead-letters");
    expect(dlq).toMatchObject({ metricName: "NumberOfMessagesSent", statistic: "Sum", period: 300 });
    expect(dlq?.treatMissingData).toBe("notBreaching");
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
      "Workflow runs per day (backup, verify, restore test)",
      "Workflow run time (ms, max)",
      "Lambda errors",
      "Lambda duration (ms, max)",
    ]);
    expect(JSON.stringify(body)).toContain('"Collection","orders"');
    const machines = ofType(resources, "aws:sfn/stateMachine:StateMachine")
      .map((m) => m.state.arn)
      .sort();
    const runs = body.widgets.find(
      (w: { properties: { title: string } }) => w.properties.title === "Workflow run time (ms, max)",
    );
    expect(runs.properties.metrics.map((line: string[]) => line[3]).sort()).toEqual(machines);
  });

  it("alarms when a workflow run fails, times out or is stopped, on the job failure alarms' topic", () => {
    const alarms = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").filter(
      (a) => a.inputs.namespace === "AWS/States",
    );
    const technical = ofType(resources, "aws:sns/topic:Topic").find(
      (t) => t.inputs.name === "opendev-technical-alerts",
    )!.state.arn;
    expect(alarm("opendev-backup-failed")?.alarmActions).toEqual([technical]);
    const machines = Object.fromEntries(
      ofType(resources, "aws:sfn/stateMachine:StateMachine").map((m) => [m.inputs.name, m.state.arn]),
    );
    const seen = alarms.map((a) => [a.inputs.name, a.inputs.metricName, a.inputs.dimensions.StateMachineArn]);
    const expected = ["backup", "verify-backup", "restore-test"].flatMap((job) =>
      [
        ["failed", "ExecutionsFailed"],
        ["timed-out", "ExecutionsTimedOut"],
        ["aborted", "ExecutionsAborted"],
      ].map(([id, metric]) => [`opendev-${job}-workflow-${id}`, metric, machines[`opendev-${job}`]]),
    );
    expect(seen.sort()).toEqual(expected.sort());
    for (const a of alarms) {
      expect(a.inputs).toMatchObject({
        statistic: "Sum",
        period: 300,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        threshold: 1,
        treatMissingData: "notBreaching",
        alarmActions: [technical],
        okActions: [technical],
      });
    }
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
