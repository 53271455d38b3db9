import { beforeAll, describe, expect, it } from "vitest";
import type { PolicyDocument, PolicyStatement } from "../../infra/iam";
import { snapshotPolicyItems } from "../../infra/atlas-database";
import { ACTIONS_WITHOUT_RESOURCE_LEVEL } from "../../infra/iam";
import { parseDatabaseCredentials } from "../../lambdas/core/mongo/credentials";
import {
  ADMIN_SECRET_EXPIRES_AT,
  CLUSTER_SRV,
  isSecret,
  NAT_IP,
  named,
  ofType,
  plain,
  type RecordedResource,
  waitsFor,
} from "./mocks";
import { runStack, type StackRun } from "./stack-run";

let run: StackRun;
let resources: RecordedResource[];
beforeAll(async () => {
  run = await runStack();
  resources = run.resources;
});

const FN = "aws:lambda/function:Function";
const functionNamed = (name: string) =>
  ofType(resources, FN).find((f) => f.inputs.name === name) as RecordedResource;
/** The parsed inline policy of a job's Lambda role. */
function jobPolicy(job: string): PolicyDocument {
  const policy = named(resources, "aws:iam/rolePolicy:RolePolicy", `${job}-policy`);
  return JSON.parse(policy.inputs.policy as string) as PolicyDocument;
}
const allows = (doc: PolicyDocument) => doc.Statement.filter((s) => s.Effect === "Allow");
const actionsOf = (statements: PolicyStatement[]) => statements.flatMap((s) => s.Action).sort();

describe("schedules", () => {
  it("runs every job at the maintenance guide's times, in the configured time zone", () => {
    const schedules: Record<string, RecordedResource["inputs"]> = Object.fromEntries(
      ofType(resources, "aws:scheduler/schedule:Schedule").map((s) => [s.inputs.name, s.inputs]),
    );
    expect(Object.fromEntries(Object.entries(schedules).map(([n, s]) => [n, s.scheduleExpression]))).toEqual({
      "opendev-backup-daily": "cron(30 4 * * ? *)",
      "opendev-backup-weekly": "cron(0 4 ? * SUN *)",
      "opendev-backup-monthly": "cron(0 4 1 * ? *)",
      "opendev-verify-backup": "cron(0 6 ? * MON *)",
      "opendev-restore-test": "cron(0 5 2 * ? *)",
      "opendev-health-check": "rate(5 minutes)",
      "opendev-db-stats": "cron(30 6 * * ? *)",
      "opendev-daily-report": "cron(0 9 * * ? *)",
      "opendev-security-review": "cron(0 7 ? * MON *)",
      "opendev-performance-review-daily": "cron(0 7 * * ? *)",
      "opendev-performance-review-monthly": "cron(0 8 3 * ? *)",
    });
    for (const schedule of Object.values(schedules)) {
      expect(schedule.scheduleExpressionTimezone).toBe("Europe/Berlin");
      expect(schedule.flexibleTimeWindow).toEqual({ mode: "OFF" });
    }
  });
});

describe("backup storage", () => {
  it("keeps each kind for its configured days, expires old versions and aborts stale uploads", () => {
    const lifecycle = ofType(
      resources,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    )[0];
    const rules = lifecycle?.inputs.rules as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const byPrefix = Object.fromEntries(
      rules.filter((r) => r.expiration?.days).map((r) => [r.filter.prefix, r.expiration.days]),
    );
    expect(byPrefix).toEqual({
      "daily/": 30,
      "weekly/": 90,
      "monthly/": 365,
      ".atlas-ops/continuations/": 3,
    });
    expect(
      rules
        .filter((r) => r.expiration?.days && r.id.startsWith("expire-") && r.id !== "expire-continuations")
        .every((r) => r.noncurrentVersionExpiration.noncurrentDays === 7),
    ).toBe(true);
    expect(rules.find((r) => r.abortIncompleteMultipartUpload)?.abortIncompleteMultipartUpload).toEqual({
      daysAfterInitiation: 2,
    });
    // What a backup passes between its steps goes after three days, its old versions a day later.
    expect(rules.find((r) => r.filter.prefix === ".atlas-ops/continuations/")).toMatchObject({
      expiration: { days: 3 },
      noncurrentVersionExpiration: { noncurrentDays: 1 },
    });
  });

  it("removes the delete markers that expiry leaves behind once their versions are gone", () => {
    const rules = ofType(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0]
      ?.inputs.rules as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const markers = rules.filter((r) => r.expiration?.expiredObjectDeleteMarker === true);
    // S3 refuses the flag beside `days`: one rule of its own, over the whole backup prefix.
    expect(markers).toEqual([
      {
        id: "remove-expired-delete-markers",
        status: "Enabled",
        filter: { prefix: "" },
        expiration: { expiredObjectDeleteMarker: true },
      },
    ]);
  });

  it("protects the backup key and its alias like the bucket, and keeps them if the stack is destroyed", () => {
    const key = ofType(resources, "aws:kms/key:Key")[0]!;
    const alias = ofType(resources, "aws:kms/alias:Alias")[0]!;
    const bucket = ofType(resources, "aws:s3/bucket:Bucket")[0]!;
    expect(bucket.options.protect).toBe(true);
    for (const resource of [key, alias]) {
      expect(resource.options, resource.type).toMatchObject({ protect: true, retainOnDelete: true });
    }
    expect(key.inputs.deletionWindowInDays).toBe(30);
  });

  it("encrypts with a rotating customer-managed key, versions, blocks public access and denies plain HTTP", () => {
    const key = ofType(resources, "aws:kms/key:Key")[0];
    expect(key?.inputs.enableKeyRotation).toBe(true);
    const sse = ofType(
      resources,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )[0];
    expect(sse?.inputs.rules).toEqual([
      {
        applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: key?.state.arn },
        bucketKeyEnabled: true,
      },
    ]);
    expect(
      ofType(resources, "aws:s3/bucketVersioning:BucketVersioning")[0]?.inputs.versioningConfiguration,
    ).toEqual({
      status: "Enabled",
    });
    expect(
      ofType(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0]?.inputs,
    ).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    const policy = JSON.parse(
      ofType(resources, "aws:s3/bucketPolicy:BucketPolicy")[0]?.inputs.policy,
    ) as PolicyDocument;
    const tls = policy.Statement.find((s) => s.Sid === "DenyInsecureTransport");
    expect(tls).toMatchObject({
      Effect: "Deny",
      Action: ["s3:*"],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    expect(tls?.Resource).toEqual([
      "arn:aws:s3:::opendev-backups-test",
      "arn:aws:s3:::opendev-backups-test/*",
    ]);
    const otherKeys = policy.Statement.find((s) => s.Sid === "DenyUploadsWithOtherKeys");
    expect(otherKeys?.Condition?.StringNotEquals).toEqual({
      "s3:x-amz-server-side-encryption-aws-kms-key-id": key?.state.arn,
    });
    expect(
      ofType(resources, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"),
    ).toHaveLength(0);
  });
});

describe("IAM", () => {
  const bucketArn = "arn:aws:s3:::opendev-backups-test";

  it("lets the backup job write under its prefix and never delete", () => {
    const doc = jobPolicy("backup");
    const write = doc.Statement.find((s) => s.Sid === "WriteBackups");
    expect(write).toMatchObject({
      Action: ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"],
      Resource: [`${bucketArn}/*`],
    });
    expect(actionsOf(allows(doc)).filter((a) => /^s3:Delete/.test(a))).toEqual([]);
    const deny = doc.Statement.find((s) => s.Effect === "Deny");
    expect(deny?.Action).toEqual(expect.arrayContaining(["s3:DeleteObject", "s3:DeleteObjectVersion"]));
    expect(doc.Statement.find((s) => s.Sid === "ReadOwnSecrets")?.Resource).toEqual([
      run.outputs.secretArns && (run.outputs.secretArns as Record<string, string>).mongodbBackup,
    ]);
  });

  it("runs one backup and one restore test at a time, so two deliveries of a run never write side by side", () => {
    const reserved = Object.fromEntries(
      ofType(resources, FN).map((f) => [f.inputs.name, f.inputs.reservedConcurrentExecutions]),
    );
    expect(reserved).toMatchObject({ "opendev-backup": 1, "opendev-restore-test": 1 });
    // The others keep the account's shared pool (reserving for them would only eat the account quota).
    for (const job of ["verify-backup", "health-check", "db-stats", "daily-report", "rotate-app-secret"]) {
      expect(reserved[`opendev-${job}`], job).toBeUndefined();
    }
    // A failed copy cannot delete what another copy committed: no delete action, and an explicit deny.
    for (const job of ["backup", "restore-test", "verify-backup"]) {
      const doc = jobPolicy(job);
      expect(
        actionsOf(allows(doc)).filter((a) => /^s3:(Delete|\*)/.test(a)),
        job,
      ).toEqual([]);
    }
    const deny = jobPolicy("backup").Statement.find((s) => s.Sid === "NeverDeleteBackups");
    expect(deny).toMatchObject({ Effect: "Deny", Resource: [bucketArn, `${bucketArn}/*`] });
    expect(deny?.Action).toEqual(expect.arrayContaining(["s3:DeleteObject", "s3:DeleteObjectVersion"]));
  });

  it("lets the backup job read the sidecars it checks before writing a scheduled run again", () => {
    const read = jobPolicy("backup").Statement.find((s) => s.Sid === "ReadSidecars");
    expect(read).toMatchObject({ Effect: "Allow", Action: ["s3:GetObject"], Resource: [`${bucketArn}/*`] });
  });

  it("gives VPC jobs the ENI permissions of AWSLambdaVPCAccessExecutionRole", () => {
    const vpc = jobPolicy("backup").Statement.find((s) => s.Sid === "AttachToVpc");
    expect(vpc?.Action).toEqual(
      expect.arrayContaining([
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]),
    );
  });

  it("lets the daily report find the dimensions db-stats reported", () => {
    const read = jobPolicy("daily-report").Statement.find((s) => s.Sid === "ReadMetrics");
    expect(read?.Action).toEqual(["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]);
  });

  it("lets the restore test read backups and its own secret, nothing else", () => {
    const doc = jobPolicy("restore-test");
    const s3 = allows(doc).filter((s) => s.Action.some((a) => a.startsWith("s3:")));
    expect(actionsOf(s3)).toEqual(["s3:GetObject", "s3:GetObjectTagging", "s3:ListBucket"]);
    const kms = allows(doc).find((s) => s.Action.some((a) => a.startsWith("kms:")));
    expect(kms?.Action).toEqual(["kms:Decrypt"]);
    expect(kms?.Condition).toEqual({ StringEquals: { "kms:ViaService": "s3.eu-central-1.amazonaws.com" } });
    const secrets = (run.outputs.secretArns as Record<string, string>).mongodbRestoreTest;
    expect(doc.Statement.find((s) => s.Sid === "ReadOwnSecrets")?.Resource).toEqual([secrets]);
  });

  it("scopes each rotation Lambda to exactly the secrets it rotates", () => {
    const arns = run.outputs.secretArns as Record<string, string>;
    const mongo = jobPolicy("rotate-mongodb-password").Statement.find((s) => s.Sid === "RotateOwnSecrets");
    expect(mongo?.Resource).toEqual([arns.mongodbApp, arns.mongodbBackup, arns.mongodbRestoreTest]);
    const app = jobPolicy("rotate-app-secret").Statement.find((s) => s.Sid === "RotateOwnSecrets");
    expect(app?.Resource).toEqual([arns.NEXTAUTH_SECRET, arns.JWT_SECRET]);
  });

  it("grants no wildcard actions, and '*' resources only where AWS offers nothing narrower", () => {
    for (const policy of ofType(resources, "aws:iam/rolePolicy:RolePolicy")) {
      const doc = JSON.parse(policy.inputs.policy as string) as PolicyDocument;
      for (const statement of allows(doc)) {
        expect(
          statement.Action.filter((a) => a.includes("*")),
          policy.name,
        ).toEqual([]);
        if (statement.Resource.includes("*")) {
          expect(
            statement.Action.filter((a) => !ACTIONS_WITHOUT_RESOURCE_LEVEL.includes(a)),
            policy.name,
          ).toEqual([]);
        }
      }
    }
  });
});

describe("Lambdas", () => {
  it("run Node 22 on arm64 with per-job sizing, JSON logs and a log group with retention", () => {
    const functions = ofType(resources, FN);
    expect(functions).toHaveLength(10);
    for (const fn of functions) {
      expect(fn.inputs).toMatchObject({
        runtime: "nodejs22.x",
        architectures: ["arm64"],
        handler: "index.handler",
      });
    }
    expect(functionNamed("opendev-backup").inputs).toMatchObject({
      memorySize: 2048,
      timeout: 900,
      ephemeralStorage: { size: 512 },
    });
    expect(functionNamed("opendev-health-check").inputs).toMatchObject({ memorySize: 256, timeout: 60 });
    const logGroups = ofType(resources, "aws:cloudwatch/logGroup:LogGroup");
    expect(logGroups.map((g) => g.inputs.retentionInDays)).toEqual(Array(13).fill(90));
  });

  it("get the environment the shared contract names", () => {
    const arns = run.outputs.secretArns as Record<string, string>;
    expect(functionNamed("opendev-backup").inputs.environment.variables).toMatchObject({
      APP_NAME: "opendev",
      MONGODB_SECRET_ID: arns.mongodbBackup,
      BACKUP_BUCKET: "opendev-backups-test",
      BACKUP_PREFIX: "",
      BACKUP_KMS_KEY_ID: run.outputs.backupKmsKeyArn,
      BACKUP_DATABASES: "opendev",
    });
    expect(functionNamed("opendev-restore-test").inputs.environment.variables).toMatchObject({
      MONGODB_SECRET_ID: arns.mongodbRestoreTest,
      RESTORE_TEST_KIND: "daily",
      PRODUCTION_MONGODB_HOSTS: "opendev-cluster.ab1cd.mongodb.net",
      PRODUCTION_DATABASE: "opendev",
    });
    expect(functionNamed("opendev-health-check").inputs.environment.variables).toMatchObject({
      HEALTH_CHECK_URL: "https://shop.example.com/api/health",
      HEALTH_CHECK_EXPECT: "status=ok",
    });
    expect(functionNamed("opendev-rotate-mongodb-password").inputs.environment.variables).toMatchObject({
      ROTATION_STRATEGY: "single-user",
      ATLAS_ADMIN_SECRET_ID: arns.atlasAdmin,
      ATLAS_PROJECT_ID: run.outputs.atlasProjectId,
      RESTART_MODE: "none",
    });
  });

  it("puts only the jobs that talk to the database into the VPC", () => {
    const inVpc = ofType(resources, FN)
      .filter((f) => f.inputs.vpcConfig)
      .map((f) => f.inputs.name)
      .sort();
    expect(inVpc).toEqual([
      "opendev-backup",
      "opendev-db-stats",
      "opendev-performance-review",
      "opendev-restore-test",
      "opendev-rotate-mongodb-password",
      // The reviews call the Atlas Admin API, whose service accounts accept only the NAT gateway's address.
      "opendev-security-review",
    ]);
  });
});

describe("secrets", () => {
  it("rotates the database and application secrets through their Lambdas, invoked only for their own secret", () => {
    const secrets = Object.fromEntries(
      ofType(resources, "aws:secretsmanager/secret:Secret").map((s) => [s.inputs.name, s.state.arn]),
    );
    const rotations = ofType(resources, "aws:secretsmanager/secretRotation:SecretRotation");
    const lambdaOf = (secret: string) => rotations.find((r) => r.inputs.secretId === secrets[secret])?.inputs;
    const mongo = functionNamed("opendev-rotate-mongodb-password").state.arn;
    const app = functionNamed("opendev-rotate-app-secret").state.arn;
    for (const name of ["opendev/mongodb/app", "opendev/mongodb/backup", "opendev/mongodb/restore-test"]) {
      expect(lambdaOf(name)).toMatchObject({
        rotationLambdaArn: mongo,
        rotationRules: { automaticallyAfterDays: 30 },
      });
    }
    for (const name of ["opendev/app/NEXTAUTH_SECRET", "opendev/app/JWT_SECRET"]) {
      expect(lambdaOf(name)).toMatchObject({
        rotationLambdaArn: app,
        rotationRules: { automaticallyAfterDays: 90 },
      });
    }
    const permissions = ofType(resources, "aws:lambda/permission:Permission");
    expect(permissions.map((p) => p.inputs.sourceArn).sort()).toEqual(
      rotations.map((r) => r.inputs.secretId).sort(),
    );
    expect(permissions.every((p) => p.inputs.principal === "secretsmanager.amazonaws.com")).toBe(true);
  });

  it("tags the secrets the application reads for a restart, and the jobs-only ones for none", () => {
    const tags = Object.fromEntries(
      ofType(resources, "aws:secretsmanager/secret:Secret").map((secret) => [
        secret.inputs.name,
        secret.inputs.tags["atlas-ops:restart"],
      ]),
    );
    expect(tags).toEqual({
      "opendev/mongodb/app": "app",
      "opendev/mongodb/backup": "none",
      "opendev/mongodb/restore-test": "none",
      "opendev/app/NEXTAUTH_SECRET": "app",
      "opendev/app/JWT_SECRET": "app",
      // Rotated by the stack, not by a Lambda: no restart tag.
      "opendev/atlas/rotation-admin": undefined,
    });
  });

  it("stores generated credentials in the shared shape, as secret values only", () => {
    const versions = ofType(resources, "aws:secretsmanager/secretVersion:SecretVersion");
    expect(versions.every((v) => isSecret(v.inputs.secretString))).toBe(true);
    const app = versions.find((v) => v.name === "mongodb-app-initial");
    const credentials = parseDatabaseCredentials(
      plain<string>(app?.inputs.secretString),
      "opendev/mongodb/app",
    );
    expect(credentials).toMatchObject({
      username: "opendev-app",
      password: "generated-password-database-app-password",
      host: CLUSTER_SRV.replace("mongodb+srv://", ""),
      database: "opendev",
    });
    expect(JSON.parse(plain<string>(app?.inputs.secretString)).MONGODB_URI).toBe(credentials.MONGODB_URI);
    const nextAuth = JSON.parse(
      plain<string>(versions.find((v) => v.name === "app-NEXTAUTH_SECRET-initial")?.inputs.secretString),
    );
    expect(Object.keys(nextAuth)).toEqual(["NEXTAUTH_SECRET"]);
  });

  it("exports no secret value among the stack outputs", () => {
    const text = JSON.stringify(run.outputs);
    expect(text).not.toMatch(/generated-password|mdb_sa_sk/);
    expect(text).not.toContain('"password"');
    const bytes = ofType(resources, "random:index/randomBytes:RandomBytes").map(
      (r) => r.state.base64 as string,
    );
    for (const value of bytes) expect(text).not.toContain(value);
  });
});

describe("Atlas", () => {
  it("lets only the NAT gateway's IP through the access list", () => {
    const entries = ofType(resources, "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList");
    expect(entries.map((e) => ({ ip: e.inputs.ipAddress, cidr: e.inputs.cidrBlock }))).toEqual([
      { ip: NAT_IP, cidr: undefined },
    ]);
    expect(run.outputs.jobsPublicIp).toBe(NAT_IP);
  });

  it("creates a protected, backed-up, disk-auto-scaling cluster", () => {
    const cluster = ofType(resources, "mongodbatlas:index/advancedCluster:AdvancedCluster")[0]?.inputs;
    expect(cluster).toMatchObject({
      backupEnabled: true,
      terminationProtectionEnabled: true,
      clusterType: "REPLICASET",
    });
    expect(cluster?.replicationSpecs[0].regionConfigs[0]).toMatchObject({
      providerName: "AWS",
      regionName: "EU_CENTRAL_1",
      electableSpecs: { instanceSize: "M10", nodeCount: 3, diskSizeGb: 10 },
      autoScaling: { diskGbEnabled: true, computeEnabled: true, computeMaxInstanceSize: "M30" },
    });
    expect(
      ofType(resources, "mongodbatlas:index/cloudBackupSchedule:CloudBackupSchedule")[0]?.inputs
        .policyItemDaily,
    ).toEqual({
      frequencyInterval: 1,
      retentionUnit: "days",
      retentionValue: 7,
    });
  });

  it("gives each database user the least privilege its job needs", () => {
    const users = Object.fromEntries(
      ofType(resources, "mongodbatlas:index/databaseUser:DatabaseUser").map((u) => [
        u.inputs.username,
        u.inputs.roles,
      ]),
    );
    expect(users).toEqual({
      "opendev-app": [{ roleName: "readWrite", databaseName: "opendev" }],
      "opendev-backup": [{ roleName: "read", databaseName: "opendev" }],
      "opendev-restore-test": [
        { roleName: "readWrite", databaseName: "opendev_restore_test" },
        { roleName: "dbAdmin", databaseName: "opendev_restore_test" },
        // Where the restore test restores "opendev" (scratchDatabaseName), then drops it.
        { roleName: "readWrite", databaseName: "restoretest_opendev" },
        { roleName: "dbAdmin", databaseName: "restoretest_opendev" },
      ],
    });
  });

  it("keeps weekly and monthly snapshots at least as long as daily ones (Atlas refuses less)", () => {
    expect(snapshotPolicyItems(7)).toMatchObject({
      policyItemDaily: { retentionUnit: "days", retentionValue: 7 },
      policyItemWeeklies: [{ retentionUnit: "weeks", retentionValue: 4 }],
      policyItemMonthlies: [{ retentionUnit: "months", retentionValue: 12 }],
    });
    const long = snapshotPolicyItems(365);
    const weeklyDays = (long.policyItemWeeklies[0]?.retentionValue ?? 0) * 7;
    const monthlyDays = (long.policyItemMonthlies[0]?.retentionValue ?? 0) * 28;
    expect(weeklyDays).toBeGreaterThanOrEqual(365);
    expect(monthlyDays).toBeGreaterThanOrEqual(weeklyDays);
  });

  it("gives the rotation Lambda one Atlas secret that `pulumi up --replace` can renew (delete before replace)", () => {
    const account = named(
      resources,
      "mongodbatlas:index/projectServiceAccount:ProjectServiceAccount",
      "database-rotation-admin",
    );
    const secret = named(
      resources,
      "mongodbatlas:index/projectServiceAccountSecret:ProjectServiceAccountSecret",
      "database-rotation-admin-secret",
    );
    // Two slots per account, expired secrets kept, the first taken by the account's own: a replacement that
    // created the new secret before deleting the old one would need a third.
    expect(secret.options.deleteBeforeReplace).toBe(true);
    expect(secret.options.additionalSecretOutputs).toContain("secret");
    expect(account.options.additionalSecretOutputs).toContain("secrets");
    const stored = JSON.parse(
      plain<string>(
        named(resources, "aws:secretsmanager/secretVersion:SecretVersion", "atlas-admin-initial").inputs
          .secretString,
      ),
    );
    expect(stored).toEqual({ clientId: "mdb_sa_id_rotation", clientSecret: "mdb_sa_sk_generated-by-atlas" });
  });

  it("warns the security contacts 14 days before that secret expires, and clears once it is renewed", () => {
    const alarm = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").find(
      (a) => a.inputs.name === "opendev-atlas-admin-secret-expiring",
    )?.inputs;
    const topics = Object.fromEntries(
      ofType(resources, "aws:sns/topic:Topic").map((t) => [t.inputs.name, t.state.arn]),
    );
    expect(alarm).toMatchObject({
      comparisonOperator: "LessThanThreshold",
      threshold: 14,
      treatMissingData: "notBreaching",
      alarmActions: [topics["opendev-security-alerts"]],
    });
    expect(alarm?.metricQueries[0].expression).toBe(
      `(${Date.parse(ADMIN_SECRET_EXPIRES_AT) / 1000} - EPOCH(m0)) / 86400`,
    );
    expect(alarm?.metricQueries[1].metric).toMatchObject({
      metricName: "Invocations",
      dimensions: { FunctionName: "opendev-health-check" },
    });
    expect(alarm?.alarmDescription).toContain(ADMIN_SECRET_EXPIRES_AT);
  });

  it("turns database-password rotation on only once what its first test needs exists", () => {
    const rotation = named(
      resources,
      "aws:secretsmanager/secretRotation:SecretRotation",
      "mongodb-app-rotation",
    );
    for (const [type, name] of [
      ["aws:secretsmanager/secretVersion:SecretVersion", "atlas-admin-initial"],
      ["mongodbatlas:index/databaseUser:DatabaseUser", "database-app"],
      [
        "mongodbatlas:index/projectServiceAccountAccessListEntry:ProjectServiceAccountAccessListEntry",
        "database-rotation-admin-ip",
      ],
    ] as const) {
      expect(waitsFor(rotation, named(resources, type, name)), name).toBe(true);
    }
  });

  it("mails Atlas alerts to the technical contacts", () => {
    const alerts = ofType(resources, "mongodbatlas:index/alertConfiguration:AlertConfiguration");
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    for (const alert of alerts) {
      expect(alert.inputs.notifications).toEqual([
        expect.objectContaining({ typeName: "EMAIL", emailAddress: "ops@example.com" }),
      ]);
    }
  });
});
