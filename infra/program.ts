import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { buildMongoUri } from "../lambdas/core/mongo/credentials";
import type { SecretRestart } from "../lambdas/core/rotation/rotation-steps";
import { AtlasDatabase, type AtlasUser } from "./atlas-database";
import { AtlasReviewers } from "./atlas-reviewers";
import { BackupStorage } from "./backup-storage";
import type { AtlasOpsConfig } from "./config";
import {
  backupReaderStatements,
  backupWriterStatements,
  dailyReportStatements,
  ecsServiceArn,
  type PolicyStatement,
  readSecretsStatement,
  restartEcsStatement,
  rotateSecretsStatements,
} from "./iam";
import { JobFunction, type JobNetwork } from "./job-function";
import {
  deadLetterQueueName,
  isWorkflowJob,
  jobFunctionName,
  type JobName,
  jobSchedules,
  jobStateMachineName,
  type ScheduledJobName,
} from "./jobs";
import { Monitoring } from "./monitoring";
import { Network } from "./network";
import { performanceReviewStatements, securityReviewStatements } from "./review-iam";
import { RotatingSecret } from "./rotating-secret";
import { ScheduledJob } from "./scheduled-job";

/**
 * The whole stack for one validated configuration. `index.ts` calls it with the stack's config; tests call it
 * under Pulumi mocks. Returns the stack outputs (no secret values among them).
 */
export function atlasOpsStack(config: AtlasOpsConfig) {
  const app = config.appName;
  const accountId = aws.getCallerIdentityOutput({}).accountId;

  const network =
    config.network.mode === "public-unsafe"
      ? undefined
      : new Network("network", { cidrBlock: config.network.vpcCidr });
  const jobNetwork: JobNetwork | undefined = network && {
    subnetIds: network.privateSubnetIds,
    securityGroupId: network.lambdaSecurityGroupId,
  };
  const database = new AtlasDatabase("database", {
    config,
    jobsPublicIp: network?.natPublicIp,
    privateLink:
      network && config.network.mode === "privatelink"
        ? {
            vpcId: network.vpcId,
            subnetIds: network.privateSubnetIds,
            securityGroupId: network.lambdaSecurityGroupId,
          }
        : undefined,
  });
  const storage = new BackupStorage("backups", { config });
  const reviewers = new AtlasReviewers("reviewers", {
    config,
    projectId: database.projectId,
    jobsPublicIp: network?.natPublicIp,
  });
  // The application's Sentry auth token: put by a person (docs/secrets.md), so it is never in Pulumi state.
  const sentryToken = config.reviews.sentry
    ? new aws.secretsmanager.Secret("sentry-token", {
        name: `${app}/sentry/auth-token`,
        description: 'Sentry auth token (project:read, event:read) for the daily report, as {"token": "..."}',
        recoveryWindowInDays: 7,
      })
    : undefined;

  // Secrets: initial values go from the generators straight into secret versions.
  const credentialsSecret = (key: string, user: AtlasUser, description: string, restart: SecretRestart) =>
    new RotatingSecret(`mongodb-${key}`, {
      secretName: `${app}/mongodb/${key}`,
      description,
      rotatedBy: "lambda",
      restart,
      initialValue: pulumi.all([database.host, user.password]).apply(([host, password]) => {
        const parts = {
          username: user.username,
          password,
          host,
          scheme: "mongodb+srv" as const,
          database: user.database,
          options: "authSource=admin&retryWrites=true&w=majority",
        };
        return JSON.stringify({ ...parts, MONGODB_URI: buildMongoUri(parts) });
      }),
    });
  const databaseSecrets = {
    app: credentialsSecret(
      "app",
      database.users.app,
      "Application database user (readWrite on the app database)",
      "app",
    ),
    backup: credentialsSecret(
      "backup",
      database.users.backup,
      "Read-only user for backups and database statistics",
      "none",
    ),
    restoreTest: credentialsSecret(
      "restore-test",
      database.users.restoreTest,
      "Restore-test user (scratch database only)",
      "none",
    ),
  };
  const appSecrets = config.rotation.appSecretNames.map((secretName) => {
    const bytes = new random.RandomBytes(`app-secret-${secretName}`, { length: 32 });
    return new RotatingSecret(`app-${secretName}`, {
      secretName: `${app}/app/${secretName}`,
      description: `${secretName} of the application (base64 of 32 random bytes)`,
      rotatedBy: "lambda",
      restart: "app",
      initialValue: bytes.base64.apply((value) => JSON.stringify({ [secretName]: value })),
    });
  });
  const atlasAdminSecret = new RotatingSecret("atlas-admin", {
    secretName: `${app}/atlas/rotation-admin`,
    description: "Atlas service account that rotates database passwords (replace its secret to rotate)",
    rotatedBy: "pulumi",
    initialValue: pulumi
      .all([database.adminClientId, database.adminClientSecret])
      .apply(([clientId, clientSecret]) => JSON.stringify({ clientId, clientSecret })),
  });
  const webhookKey =
    config.rotation.restartMode === "webhook"
      ? new RotatingSecret("restart-webhook", {
          secretName: `${app}/app/restart-webhook-key`,
          description: "HMAC key that signs restart requests to the application",
          rotatedBy: "pulumi",
          initialValue: new random.RandomBytes("restart-webhook-key", { length: 32 }).base64.apply((key) =>
            JSON.stringify({ key }),
          ),
        })
      : undefined;

  const monitoring = new Monitoring("monitoring", {
    config,
    adminSecretExpiresAt: database.adminSecretExpiresAt,
    accountId,
    jobs: [
      ...(
        [
          "backup",
          "verify-backup",
          "restore-test",
          "health-check",
          "db-stats",
          "daily-report",
          "security-review",
          "performance-review",
        ] as const
      ).map((job) => ({
        job,
        functionName: jobFunctionName(app, job),
        deadLetterQueueName: deadLetterQueueName(app, job),
        stateMachineName: isWorkflowJob(job) ? jobStateMachineName(app, job) : undefined,
        schedules: jobSchedules(config).filter((s) => s.job === job),
      })),
      ...(["rotate-app-secret", "rotate-mongodb-password"] as const).map((job) => ({
        job,
        functionName: jobFunctionName(app, job),
        schedules: [],
      })),
    ],
  });

  // Scheduled jobs.
  const bucketAccess = pulumi.all([storage.bucketArn, storage.kmsKeyArn]).apply(([bucketArn, kmsKeyArn]) => ({
    bucketArn,
    kmsKeyArn,
    prefix: config.backupPrefix,
    region: config.awsRegion,
  }));
  const statements = (...parts: pulumi.Input<PolicyStatement[]>[]) =>
    pulumi.all(parts).apply((lists) => lists.flat());
  const readSecrets = (...secrets: RotatingSecret[]) =>
    pulumi.all(secrets.map((s) => s.secretArn)).apply((arns) => [readSecretsStatement(arns)]);
  const backupEnvironment = {
    BACKUP_BUCKET: storage.bucketName,
    BACKUP_PREFIX: config.backupPrefix,
  };
  const scheduled = (
    job: ScheduledJobName,
    environment: Record<string, pulumi.Input<string>>,
    grants: pulumi.Input<PolicyStatement[]>,
    inVpc: boolean,
  ) =>
    new ScheduledJob(job, {
      job,
      config,
      environment,
      statements: grants,
      network: inVpc ? jobNetwork : undefined,
      schedules: jobSchedules(config).filter((s) => s.job === job),
      accountId,
    });
  const atlasReadEnvironment = (secret: RotatingSecret) => ({
    ATLAS_PROJECT_ID: database.projectId,
    ATLAS_CLUSTER_NAME: database.clusterName,
    ATLAS_API_BASE_URL: config.atlas.apiBaseUrl,
    ATLAS_READ_SECRET_ID: secret.secretArn,
  });
  const sentry = config.reviews.sentry;
  const jobs: Partial<Record<ScheduledJobName, ScheduledJob>> = {
    backup: scheduled(
      "backup",
      {
        ...backupEnvironment,
        MONGODB_SECRET_ID: databaseSecrets.backup.secretArn,
        BACKUP_KMS_KEY_ID: storage.kmsKeyArn,
        BACKUP_DATABASES: config.backupDatabases.join(","),
      },
      statements(readSecrets(databaseSecrets.backup), bucketAccess.apply(backupWriterStatements)),
      true,
    ),
    "verify-backup": scheduled(
      "verify-backup",
      backupEnvironment,
      bucketAccess.apply(backupReaderStatements),
      false,
    ),
    "restore-test": scheduled(
      "restore-test",
      {
        ...backupEnvironment,
        MONGODB_SECRET_ID: databaseSecrets.restoreTest.secretArn,
        RESTORE_TEST_KIND: "daily",
        PRODUCTION_MONGODB_HOSTS: database.host,
        PRODUCTION_DATABASE: config.appDatabase,
      },
      statements(readSecrets(databaseSecrets.restoreTest), bucketAccess.apply(backupReaderStatements)),
      true,
    ),
    "health-check": scheduled(
      "health-check",
      {
        HEALTH_CHECK_URL: config.healthCheck.url,
        HEALTH_CHECK_TIMEOUT_MS: String(config.healthCheck.timeoutMs),
        ...(config.healthCheck.expect ? { HEALTH_CHECK_EXPECT: config.healthCheck.expect } : {}),
      },
      [],
      false,
    ),
    "db-stats": scheduled(
      "db-stats",
      {
        MONGODB_SECRET_ID: databaseSecrets.backup.secretArn,
        STATS_DATABASES: config.backupDatabases.join(","),
        ...(config.newDocumentsCollections
          ? { NEW_DOCUMENTS_COLLECTIONS: config.newDocumentsCollections }
          : {}),
      },
      readSecrets(databaseSecrets.backup),
      true,
    ),
    "daily-report": scheduled(
      "daily-report",
      {
        REPORT_TOPIC_ARN: monitoring.technicalTopicArn,
        REPORT_TIME_ZONE: config.timeZone,
        ...(sentry && sentryToken
          ? {
              SENTRY_API_URL: sentry.apiUrl,
              SENTRY_ORG: sentry.organization,
              SENTRY_PROJECT: sentry.project,
              SENTRY_TOKEN_SECRET_ID: sentryToken.arn,
              SENTRY_SPIKE_EVENTS: String(sentry.spikeEvents),
            }
          : {}),
      },
      statements(
        pulumi
          .all([monitoring.technicalTopicArn, accountId])
          .apply(([topicArn, account]) =>
            dailyReportStatements(
              topicArn,
              `arn:aws:cloudwatch:${config.awsRegion}:${account}:alarm:${monitoring.alarmNamePrefix}`,
            ),
          ),
        sentryToken ? sentryToken.arn.apply((arn) => [readSecretsStatement([arn])]) : [],
      ),
      false,
    ),
    "performance-review": scheduled(
      "performance-review",
      {
        ...atlasReadEnvironment(reviewers.secrets.performance),
        REPORT_TOPIC_ARN: monitoring.technicalTopicArn,
        MONGODB_SECRET_ID: databaseSecrets.backup.secretArn,
        STATS_DATABASES: config.backupDatabases.join(","),
      },
      statements(
        readSecrets(reviewers.secrets.performance, databaseSecrets.backup),
        monitoring.technicalTopicArn.apply(performanceReviewStatements),
      ),
      true,
    ),
  };

  // Rotation: one Lambda per secret family, allowed to touch exactly the secrets it rotates.
  const rotation = config.rotation;
  const restartEnvironment: Record<string, pulumi.Input<string>> = {
    RESTART_MODE: rotation.restartMode,
    ...(rotation.restartEcsCluster ? { RESTART_ECS_CLUSTER: rotation.restartEcsCluster } : {}),
    ...(rotation.restartEcsServices.length > 0
      ? { RESTART_ECS_SERVICES: rotation.restartEcsServices.join(",") }
      : {}),
    ...(rotation.restartWebhookUrl ? { RESTART_WEBHOOK_URL: rotation.restartWebhookUrl } : {}),
    ...(webhookKey ? { RESTART_WEBHOOK_SECRET_ID: webhookKey.secretArn } : {}),
  };
  const restartGrants = pulumi
    .all([accountId, webhookKey?.secretArn])
    .apply(([account, webhookArn]) => [
      ...(rotation.restartMode === "ecs" && rotation.restartEcsCluster
        ? [
            restartEcsStatement(
              rotation.restartEcsServices.map((s) =>
                ecsServiceArn(config.awsRegion, account, rotation.restartEcsCluster as string, s),
              ),
            ),
          ]
        : []),
      ...(webhookArn ? [readSecretsStatement([webhookArn])] : []),
    ]);
  const rotateGrants = (secrets: RotatingSecret[]) =>
    pulumi.all(secrets.map((s) => s.secretArn)).apply(rotateSecretsStatements);

  const dbSecretList = Object.values(databaseSecrets);
  const rotateMongo = new JobFunction("rotate-mongodb-password", {
    job: "rotate-mongodb-password",
    config,
    environment: {
      ROTATION_STRATEGY: rotation.strategy,
      ATLAS_ADMIN_SECRET_ID: atlasAdminSecret.secretArn,
      ATLAS_PROJECT_ID: database.projectId,
      ATLAS_API_BASE_URL: config.atlas.apiBaseUrl,
      MONGODB_HOST: database.host,
      ...restartEnvironment,
    },
    statements: statements(rotateGrants(dbSecretList), readSecrets(atlasAdminSecret), restartGrants),
    network: jobNetwork,
  });
  const rotateApp = new JobFunction("rotate-app-secret", {
    job: "rotate-app-secret",
    config,
    environment: restartEnvironment,
    statements: statements(rotateGrants(appSecrets), restartGrants),
  });
  for (const secret of dbSecretList) {
    secret.rotateWith(rotateMongo, rotation.databasePasswordDays, [database, atlasAdminSecret]);
  }
  for (const secret of appSecrets) secret.rotateWith(rotateApp, rotation.appSecretDays);

  // Weekly security review: every secret of the stack, read by anyone but the stack's roles and the
  // configured readers (the application), is a finding.
  const reviewedSecrets = [
    ...dbSecretList,
    ...appSecrets,
    atlasAdminSecret,
    ...(webhookKey ? [webhookKey] : []),
    // Not the review's own Atlas secret: its role does not exist yet when its environment is written.
    reviewers.secrets.performance,
  ].map((secret) => secret.secretArn);
  const stackRoles = [
    ...Object.values(jobs).map((job) => job!.roleArn),
    rotateMongo.roleArn,
    rotateApp.roleArn,
  ];
  jobs["security-review"] = scheduled(
    "security-review",
    {
      ...atlasReadEnvironment(reviewers.secrets.security),
      SECURITY_TOPIC_ARN: monitoring.securityTopicArn,
      REVIEWED_SECRET_ARNS: pulumi
        .all([...reviewedSecrets, ...(sentryToken ? [sentryToken.arn] : [])])
        .apply((arns) => arns.join(",")),
      EXPECTED_SECRET_READERS: pulumi
        .all(stackRoles)
        .apply((roles) => [...roles, ...config.reviews.expectedSecretReaders].join(",")),
      BACKUP_BUCKET: storage.bucketName,
      FAILED_LOGINS_THRESHOLD: String(config.reviews.failedLoginsAlarm),
      USER_CHANGES_THRESHOLD: String(config.reviews.userChangesAlarm),
    },
    statements(
      readSecrets(reviewers.secrets.security),
      monitoring.securityTopicArn.apply(securityReviewStatements),
    ),
    true,
  );

  const functions: Record<JobName, pulumi.Output<string>> = {
    ...(Object.fromEntries(Object.entries(jobs).map(([job, j]) => [job, j!.functionName])) as Record<
      ScheduledJobName,
      pulumi.Output<string>
    >),
    "rotate-app-secret": rotateApp.functionName,
    "rotate-mongodb-password": rotateMongo.functionName,
  };

  return {
    backupBucket: storage.bucketName,
    backupKmsKeyArn: storage.kmsKeyArn,
    jobsPublicIp: network?.natPublicIp,
    atlasProjectId: database.projectId,
    atlasClusterName: database.clusterName,
    atlasHost: database.host,
    secretArns: {
      mongodbApp: databaseSecrets.app.secretArn,
      mongodbBackup: databaseSecrets.backup.secretArn,
      mongodbRestoreTest: databaseSecrets.restoreTest.secretArn,
      atlasAdmin: atlasAdminSecret.secretArn,
      atlasSecurityReview: reviewers.secrets.security.secretArn,
      atlasPerformanceReview: reviewers.secrets.performance.secretArn,
      ...(sentryToken ? { sentryToken: sentryToken.arn } : {}),
      ...Object.fromEntries(
        config.rotation.appSecretNames.map((name, i) => [name, appSecrets[i]?.secretArn]),
      ),
    },
    technicalAlertsTopicArn: monitoring.technicalTopicArn,
    securityAlertsTopicArn: monitoring.securityTopicArn,
    dashboardUrl: pulumi.interpolate`https://${config.awsRegion}.console.aws.amazon.com/cloudwatch/home?region=${config.awsRegion}#dashboards/dashboard/${monitoring.dashboardName}`,
    functionNames: functions,
    /** The Step Functions workflows the backup, verify-backup and restore-test schedules start. */
    stateMachineArns: Object.fromEntries(
      Object.entries(jobs).flatMap(([job, j]) => (j?.workflow ? [[job, j.workflow.stateMachineArn]] : [])),
    ),
  };
}
