import { beforeAll, describe, expect, it } from "vitest";
import { REVIEWER_ROLES } from "../../infra/atlas-reviewers";
import type { PolicyDocument } from "../../infra/iam";
import { reviewAlarmSpecs } from "../../infra/review-alarms";
import { named, ofType, type RecordedResource } from "./mocks";
import { testConfig } from "./stack-config";
import { runStack, type StackRun } from "./stack-run";

/** Issue 16's chores in the stack: the reviews' functions, credentials, permissions and alarms. */
const APP_ROLE = "arn:aws:iam::123456789012:role/opendev-web-task";
let run: StackRun;
const fn = (name: string) =>
  ofType(run.resources, "aws:lambda/function:Function").find((f) => f.inputs.name === name)!.inputs;
const alarm = (name: string) =>
  ofType(run.resources, "aws:cloudwatch/metricAlarm:MetricAlarm").find((a) => a.inputs.name === name)?.inputs;
const policyOf = (resource: string): PolicyDocument =>
  JSON.parse(
    named(run.resources, "aws:iam/rolePolicy:RolePolicy", `${resource}-policy`).inputs.policy as string,
  );

beforeAll(async () => {
  run = await runStack({
    sentryOrganization: "opendev-org",
    sentryProject: "opendev-web",
    securityExpectedSecretReaders: JSON.stringify([APP_ROLE]),
  });
});

describe("security review in the stack", () => {
  it("checks reads of every stack secret against the stack's roles and the configured readers", () => {
    const env = fn("opendev-security-review").environment.variables as Record<string, string>;
    const secretArns = ofType(run.resources, "aws:secretsmanager/secret:Secret")
      .filter((s) => s.inputs.name !== "opendev/atlas/security-review")
      .map((s) => s.state.arn as string);
    expect(env.REVIEWED_SECRET_ARNS!.split(",").sort()).toEqual(secretArns.sort());
    const readers = env.EXPECTED_SECRET_READERS!.split(",");
    expect(readers).toContain(APP_ROLE);
    const roleArns = ofType(run.resources, "aws:iam/role:Role")
      .filter((r) => /^(backup|db-stats|daily-report|rotate-mongodb-password)-role$/.test(r.name))
      .map((r) => r.state.arn);
    expect(roleArns).toHaveLength(4);
    for (const arn of roleArns) expect(readers).toContain(arn);
    expect(env).toMatchObject({
      BACKUP_BUCKET: "opendev-backups-test",
      FAILED_LOGINS_THRESHOLD: "25",
      USER_CHANGES_THRESHOLD: "6",
    });
  });

  it("lets the review read only its own Atlas secret, look up CloudTrail and mail the security topic", () => {
    const statements = policyOf("security-review").Statement;
    const topics = ofType(run.resources, "aws:sns/topic:Topic");
    const security = topics.find((t) => t.inputs.name === "opendev-security-alerts")!.state.arn;
    const ownSecret = ofType(run.resources, "aws:secretsmanager/secret:Secret").find(
      (s) => s.inputs.name === "opendev/atlas/security-review",
    )!.state.arn;
    expect(statements.find((s) => s.Action.includes("secretsmanager:GetSecretValue"))?.Resource).toEqual([
      ownSecret,
    ]);
    expect(statements.find((s) => s.Action.includes("cloudtrail:LookupEvents"))?.Resource).toEqual(["*"]);
    expect(statements.find((s) => s.Action.includes("sns:Publish"))?.Resource).toEqual([security]);
    expect(statements.flatMap((s) => s.Action).filter((a) => /Put|Delete|Update|Create/.test(a))).toEqual([
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "ec2:CreateNetworkInterface",
      "ec2:DeleteNetworkInterface",
    ]);
  });

  it("gives each review its own Atlas service account with read-only project roles, reachable from the NAT only", () => {
    const accounts = ofType(run.resources, "mongodbatlas:index/projectServiceAccount:ProjectServiceAccount");
    const byName = Object.fromEntries(accounts.map((a) => [a.inputs.name, a.inputs.roles]));
    expect(byName["opendev-security-review"]).toEqual([...REVIEWER_ROLES.security]);
    expect(byName["opendev-performance-review"]).toEqual([...REVIEWER_ROLES.performance]);
    for (const roles of [byName["opendev-security-review"], byName["opendev-performance-review"]])
      expect(roles).not.toContain("GROUP_DATABASE_ACCESS_ADMIN");
    expect(JSON.stringify(run.outputs)).not.toMatch(/mdb_sa_sk|clientSecret/);
  });

  it("alarms on findings with the configured thresholds, to the security topic", () => {
    expect(alarm("opendev-security-failed-logins")).toMatchObject({
      metricName: "FailedLogins",
      threshold: 25,
      comparisonOperator: "GreaterThanThreshold",
    });
    expect(alarm("opendev-security-unexpected-secret-reads")).toMatchObject({ threshold: 0 });
    expect(alarm("opendev-security-review-failed")).toMatchObject({
      metricName: "SecurityReviewSucceeded",
      comparisonOperator: "LessThanThreshold",
    });
    const security = ofType(run.resources, "aws:sns/topic:Topic").find(
      (t) => t.inputs.name === "opendev-security-alerts",
    )!.state.arn;
    expect(alarm("opendev-security-backup-bucket-changed")?.alarmActions).toEqual([security]);
  });
});

describe("performance review in the stack", () => {
  it("runs daily and monthly, in the VPC, reading its Atlas secret and the backup user's", () => {
    const schedules = ofType(run.resources, "aws:scheduler/schedule:Schedule").filter((s) =>
      String(s.inputs.name).startsWith("opendev-performance-review"),
    );
    const inputs = schedules.map((s) => JSON.parse(s.inputs.target.input));
    expect(inputs.map((i) => i.review ?? "daily").sort()).toEqual(["daily", "monthly"]);
    expect(fn("opendev-performance-review").vpcConfig).toBeDefined();
    const read = policyOf("performance-review").Statement.find((s) =>
      s.Action.includes("secretsmanager:GetSecretValue"),
    )!;
    const names = ofType(run.resources, "aws:secretsmanager/secret:Secret")
      .filter((s) => read.Resource.includes(s.state.arn))
      .map((s) => s.inputs.name)
      .sort();
    expect(names).toEqual(["opendev/atlas/performance-review", "opendev/mongodb/backup"]);
  });
});

describe("Sentry digest and order alarms in the stack", () => {
  it("creates the token secret empty (a person puts the token), and points the daily report at it", () => {
    const secrets = ofType(run.resources, "aws:secretsmanager/secret:Secret");
    const versionsOf = (name: string) => {
      const found = secrets.find((s) => s.inputs.name === name)!;
      return ofType(run.resources, "aws:secretsmanager/secretVersion:SecretVersion").filter(
        (v) => v.inputs.secretId === found.state.id || v.inputs.secretId === found.state.arn,
      );
    };
    expect(versionsOf("opendev/atlas/security-review")).toHaveLength(1);
    expect(versionsOf("opendev/sentry/auth-token")).toEqual([]);
    const secret = secrets.find((s) => s.inputs.name === "opendev/sentry/auth-token")!;
    expect(fn("opendev-daily-report").environment.variables).toMatchObject({
      SENTRY_ORG: "opendev-org",
      SENTRY_PROJECT: "opendev-web",
      SENTRY_TOKEN_SECRET_ID: secret.state.arn,
      SENTRY_SPIKE_EVENTS: "100",
    });
    expect(alarm("opendev-sentry-events-spike")).toMatchObject({
      metricName: "SentryEvents",
      threshold: 100,
    });
  });

  it("alarms when orders stop, and when they fall below the anomaly band", () => {
    expect(alarm("opendev-orders-none")).toMatchObject({
      metricName: "NewDocuments",
      dimensions: {
        service: "atlas-ops",
        App: "opendev",
        Job: "db-stats",
        Database: "opendev",
        Collection: "orders",
      },
      period: 86400,
      evaluationPeriods: 1,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
    });
    const band = alarm("opendev-orders-below-normal")!;
    expect(band.comparisonOperator).toBe("LessThanLowerThreshold");
    expect(band.thresholdMetricId).toBe("band");
    expect(band.threshold).toBeUndefined();
    expect(band.metricQueries[1].expression).toBe("ANOMALY_DETECTION_BAND(m0, 2)");
    expect(band.metricQueries[0].metric).toMatchObject({
      metricName: "NewDocuments",
      period: 86400,
      stat: "Maximum",
    });
  });

  it("leaves the Sentry and order alarms out when they are not configured", () => {
    const specs = reviewAlarmSpecs(
      testConfig({ orderAnomalyCollection: "", sentryOrganization: "", sentryProject: "" }),
    );
    const ids = specs.map((spec) => spec.id);
    expect(ids).not.toContain("sentry-events-spike");
    expect(ids).not.toContain("orders-none");
    expect(ids).toContain("security-failed-logins");
  });

  it("refuses an orders collection db-stats does not count, and half a Sentry configuration", () => {
    expect(() => testConfig({ orderAnomalyCollection: "opendev.carts" })).toThrow(
      /atlas-ops:orderAnomalyCollection: "opendev.carts" must be one of newDocumentsCollections \(opendev.orders, opendev.users\)/,
    );
    expect(() => testConfig({ sentryOrganization: "opendev-org" })).toThrow(
      /atlas-ops:sentryProject: is required with the other Sentry key/,
    );
    expect(() => testConfig({ securityExpectedSecretReaders: '["someone"]' })).toThrow(
      /"someone" is not an IAM role ARN/,
    );
  });
});

export type { RecordedResource };
