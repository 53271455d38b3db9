import * as pulumi from "@pulumi/pulumi";
import {
  type AtlasInstanceSize,
  atlasRegionName,
  checkEmail,
  checkHttpsUrl,
  checkInstanceSize,
  checkIpv4Cidr,
  checkLogRetentionDays,
  checkScheduleExpression,
  checkTimeZone,
  cronRunsInGaps,
  isWholeInternet,
  longestIntervalHours,
} from "./config-rules";
import { scratchDatabaseName } from "../lambdas/core/restore-test/scratch";
import { dstGaps } from "./dst";

export type BackupKind = "daily" | "weekly" | "monthly";
export type NetworkMode = "nat" | "privatelink" | "public-unsafe";
export type ObjectLockMode = "none" | "GOVERNANCE" | "COMPLIANCE";
export type RestartMode = "none" | "ecs" | "webhook";
export type RotationStrategy = "single-user" | "alternating-users";
export type ScheduleKey =
  | "backupDaily"
  | "backupWeekly"
  | "backupMonthly"
  | "verifyBackup"
  | "restoreTest"
  | "healthCheck"
  | "dbStats"
  | "dailyReport"
  | "securityReview"
  | "performanceReviewDaily"
  | "performanceReviewMonthly";

/** The whole stack configuration, validated. Every field comes from one `atlas-ops:<key>` of the stack file. */
export interface AtlasOpsConfig {
  appName: string;
  awsRegion: string;
  timeZone: string;
  atlas: {
    orgId: string;
    projectName: string;
    regionName: string;
    clusterName: string;
    instanceSize: AtlasInstanceSize;
    maxInstanceSize?: AtlasInstanceSize;
    diskSizeGb: number;
    mongoDbMajorVersion: string;
    terminationProtection: boolean;
    snapshotRetentionDays: number;
    apiBaseUrl: string;
    adminSecretExpiresAfterDays: number;
  };
  appDatabase: string;
  restoreTestDatabase: string;
  backupDatabases: string[];
  network: {
    mode: NetworkMode;
    vpcCidr: string;
    appAccessCidrs: string[];
    /** privatelink only: keep the NAT IP on the access list (for secrets that still name the public host). */
    natAccessWithPrivateLink: boolean;
  };
  schedules: Record<ScheduleKey, string>;
  backupPrefix: string;
  retention: Record<BackupKind, number> & {
    noncurrentVersionDays: number;
    coldStorageAfterDays: number;
    coldStorageClass: string;
  };
  objectLock: { mode: ObjectLockMode; days: number };
  contacts: { technical: string[]; security: string[] };
  healthCheck: {
    url: string;
    expect?: string;
    timeoutMs: number;
    downPeriods: number;
    downOutOfPeriods: number;
    latencyP95Ms: number;
  };
  alarms: { tlsCertDaysLeft: number; storageShare: number; missedRunSlackMinutes: number };
  rotation: {
    databasePasswordDays: number;
    appSecretDays: number;
    strategy: RotationStrategy;
    appSecretNames: string[];
    restartMode: RestartMode;
    restartEcsCluster?: string;
    restartEcsServices: string[];
    restartWebhookUrl?: string;
  };
  newDocumentsCollections?: string;
  logRetentionDays: number;
  reviews: ReviewsConfig;
}

/** The security and performance reviews, the Sentry digest and the order alarms (infra/review-*.ts). */
export interface ReviewsConfig {
  failedLoginsAlarm: number;
  userChangesAlarm: number;
  /** IAM role ARNs besides the stack's own that may read its secrets (e.g. the application's task role). */
  expectedSecretReaders: string[];
  sentry?: { organization: string; project: string; apiUrl: string; spikeEvents: number };
  orders?: { database: string; collection: string; zeroDays: number; anomalyBand: number };
}

/**
 * Every default time exists every day in every zone: daylight-saving gaps lie between 00:00 and 04:00 local
 * (02:00-03:00 in most of Europe and North America, 03:00-04:00 in Eastern Europe), and Scheduler skips a run
 * inside one. The backups therefore run at 04:00 or later, not at the old cron's 02:00.
 */
export const SCHEDULE_DEFAULTS: Record<ScheduleKey, string> = {
  backupDaily: "cron(30 4 * * ? *)",
  backupWeekly: "cron(0 4 ? * SUN *)",
  backupMonthly: "cron(0 4 1 * ? *)",
  verifyBackup: "cron(0 6 ? * MON *)",
  restoreTest: "cron(0 5 2 * ? *)",
  healthCheck: "rate(5 minutes)",
  dbStats: "cron(30 6 * * ? *)",
  dailyReport: "cron(0 9 * * ? *)",
  securityReview: "cron(0 7 ? * MON *)",
  performanceReviewDaily: "cron(0 7 * * ? *)",
  performanceReviewMonthly: "cron(0 8 3 * ? *)",
};

/** The Atlas admin secret's expiry alarm fires this many days ahead (to the security contacts). */
export const ADMIN_SECRET_WARNING_DAYS = 14;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** Reads raw values by key (without the "atlas-ops:" namespace); structured YAML values arrive as JSON. */
export type ConfigLookup = (key: string) => string | undefined;

/** Parses and validates the stack configuration, reporting every bad key at once. */
export function parseConfig(
  rawLookup: ConfigLookup,
  awsRegion: string,
  /** Keys present in the stack file; any the program does not read is reported as unknown (a typo). */
  presentKeys: string[] = [],
  /** From when schedules are checked against daylight-saving gaps (the next three years). */
  now: number = Date.now(),
): AtlasOpsConfig {
  const problems: string[] = [];
  const requested = new Set<string>();
  const lookup: ConfigLookup = (key) => {
    requested.add(key);
    return rawLookup(key);
  };
  const fail = (key: string, rule: string) => problems.push(`atlas-ops:${key}: ${rule}`);
  const check = (key: string, error: string | undefined) => (error ? fail(key, error) : undefined);

  const text = (key: string, fallback?: string): string => {
    const value = lookup(key)?.trim();
    if (value) return value;
    if (fallback === undefined) fail(key, "is required");
    return fallback ?? "";
  };
  const optionalText = (key: string) => lookup(key)?.trim() || undefined;
  const integer = (key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = lookup(key)?.trim();
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      fail(key, `must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const raw = lookup(key)?.trim();
    if (raw === undefined || raw === "") return fallback;
    if (raw !== "true" && raw !== "false") fail(key, `must be true or false, got "${raw}"`);
    return raw === "true";
  };
  const list = (key: string, fallback: string[] = []): string[] => {
    const raw = lookup(key)?.trim();
    if (raw === undefined || raw === "") return fallback;
    if (!raw.startsWith("["))
      return raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    try {
      const parsed: unknown = JSON.parse(raw);
      if (Array.isArray(parsed) && parsed.every((v) => typeof v === "string")) return parsed;
    } catch {
      // reported below
    }
    fail(key, "must be a list of strings");
    return fallback;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const value = text(key, fallback);
    if ((allowed as readonly string[]).includes(value)) return value as T;
    fail(key, `must be one of ${allowed.join(", ")}, got "${value}"`);
    return fallback;
  };
  const placeholder = (key: string, value: string) => {
    if (/REPLACE[_-]?ME/i.test(value)) fail(key, `still holds the placeholder "${value}"`);
  };

  const appName = text("appName", "opendev");
  if (!/^[a-z][a-z0-9-]{1,30}$/.test(appName))
    fail("appName", "use 2-31 lower-case letters, digits or dashes");
  const timeZone = text("timeZone", "UTC");
  check("timeZone", checkTimeZone(timeZone));

  let zoneGaps: ReturnType<typeof dstGaps> | undefined;
  const gaps = () => (zoneGaps ??= dstGaps(timeZone, now, 3 * 366));

  const instanceSize = text("atlasInstanceSize", "M10");
  check("atlasInstanceSize", checkInstanceSize(instanceSize));
  const maxInstanceSize = optionalText("atlasMaxInstanceSize");
  if (maxInstanceSize) check("atlasMaxInstanceSize", checkInstanceSize(maxInstanceSize));
  const orgId = text("atlasOrgId");
  placeholder("atlasOrgId", orgId);
  if (orgId && !/^REPLACE/i.test(orgId) && !/^[0-9a-f]{24}$/.test(orgId)) {
    fail("atlasOrgId", "must be the 24-hex-digit organization id from the Atlas UI (Organization Settings)");
  }

  const schedules = Object.fromEntries(
    (Object.keys(SCHEDULE_DEFAULTS) as ScheduleKey[]).map((name) => {
      const key = `schedule${name[0]?.toUpperCase()}${name.slice(1)}`;
      const value = text(key, SCHEDULE_DEFAULTS[name]);
      const invalid = checkScheduleExpression(value);
      check(key, invalid);
      if (!invalid && !checkTimeZone(timeZone)) {
        const skipped = cronRunsInGaps(value, gaps());
        if (skipped.length > 0) {
          fail(
            key,
            `runs at a time that does not exist in ${timeZone} when daylight saving time starts, so ` +
              `EventBridge Scheduler skips it: ${skipped.slice(0, 4).join(", ")}${skipped.length > 4 ? ", ..." : ""}; ` +
              "pick a time outside the gap (04:00 or later exists everywhere)",
          );
        }
      }
      return [name, value];
    }),
  ) as Record<ScheduleKey, string>;

  const retention = {
    daily: integer("retentionDailyDays", 30, 1),
    weekly: integer("retentionWeeklyDays", 90, 1),
    monthly: integer("retentionMonthlyDays", 365, 1),
    noncurrentVersionDays: integer("retentionNoncurrentVersionDays", 7, 1),
    coldStorageAfterDays: integer("coldStorageAfterDays", 0, 0),
    coldStorageClass: oneOf(
      "coldStorageClass",
      ["GLACIER_IR", "STANDARD_IA", "GLACIER", "DEEP_ARCHIVE"],
      "GLACIER_IR",
    ),
  };
  for (const kind of ["daily", "weekly", "monthly"] as const) {
    const scheduleName = `backup${kind[0]?.toUpperCase()}${kind.slice(1)}` as ScheduleKey;
    if (checkScheduleExpression(schedules[scheduleName])) continue;
    const intervalHours = longestIntervalHours(schedules[scheduleName]);
    if (retention[kind] * 24 <= intervalHours) {
      fail(
        `retention${kind[0]?.toUpperCase()}${kind.slice(1)}Days`,
        `${retention[kind]} days is not longer than the ${intervalHours} h between ${kind} backups ` +
          `(schedule${scheduleName[0]?.toUpperCase()}${scheduleName.slice(1)}): a backup would expire before the next one exists`,
      );
    }
  }
  const minimumColdDays = retention.coldStorageClass === "STANDARD_IA" ? 30 : 0;
  if (retention.coldStorageAfterDays > 0 && retention.coldStorageAfterDays < minimumColdDays) {
    fail(
      "coldStorageAfterDays",
      `S3 moves objects to ${retention.coldStorageClass} after 30 days at the earliest`,
    );
  }

  const objectLock = {
    mode: oneOf<ObjectLockMode>("objectLockMode", ["none", "GOVERNANCE", "COMPLIANCE"], "none"),
    days: integer("objectLockDays", 0, 0, 36500),
  };
  if (objectLock.mode !== "none" && objectLock.days < 1)
    fail("objectLockDays", "must be at least 1 with Object Lock on");
  if (objectLock.mode !== "none" && objectLock.days > retention.daily) {
    fail(
      "objectLockDays",
      `${objectLock.days} days exceeds retentionDailyDays (${retention.daily}): locked daily backups could not expire`,
    );
  }

  const mode = oneOf<NetworkMode>("networkMode", ["nat", "privatelink", "public-unsafe"], "nat");
  const unsafe = flag("unsafeAllowAtlasAccessFromAnywhere", false);
  if (mode === "public-unsafe" && !unsafe) {
    fail(
      "networkMode",
      '"public-unsafe" opens Atlas to 0.0.0.0/0 and needs unsafeAllowAtlasAccessFromAnywhere: "true"',
    );
  }
  const natAccessWithPrivateLink = flag("atlasNatAccessWithPrivateLink", true);
  const vpcCidr = text("vpcCidr", "10.20.0.0/16");
  check("vpcCidr", checkIpv4Cidr(vpcCidr));
  if (!checkIpv4Cidr(vpcCidr) && Number(vpcCidr.split("/")[1]) > 20)
    fail("vpcCidr", "must be /20 or larger (four /24 subnets)");
  const appAccessCidrs = list("atlasAppAccessCidrs");
  for (const cidr of appAccessCidrs) {
    check("atlasAppAccessCidrs", checkIpv4Cidr(cidr));
    if (isWholeInternet(cidr) && !unsafe)
      fail("atlasAppAccessCidrs", `${cidr} opens Atlas to the whole internet`);
  }

  const contacts = { technical: list("technicalContacts"), security: list("securityContacts") };
  if (contacts.technical.length === 0) fail("technicalContacts", "needs at least one e-mail address");
  if (contacts.security.length === 0) contacts.security = contacts.technical;
  for (const [key, addresses] of [
    ["technicalContacts", contacts.technical],
    ["securityContacts", contacts.security],
  ] as const) {
    for (const address of addresses) {
      check(key, checkEmail(address));
      placeholder(key, address);
    }
  }

  const healthUrl = text("healthCheckUrl");
  check("healthCheckUrl", checkHttpsUrl(healthUrl));
  placeholder("healthCheckUrl", healthUrl);
  const expect = optionalText("healthCheckExpect");
  if (expect && !/^[^=\s]+=.+$/.test(expect))
    fail("healthCheckExpect", 'must be "field=value", e.g. "status=ok"');
  const healthCheck = {
    url: healthUrl,
    expect,
    timeoutMs: integer("healthCheckTimeoutMs", 10_000, 1000, 60_000),
    downPeriods: integer("healthDownPeriods", 2, 1, 60),
    downOutOfPeriods: integer("healthDownOutOfPeriods", 3, 1, 60),
    latencyP95Ms: integer("healthLatencyP95Ms", 2000, 1),
  };
  if (healthCheck.downPeriods > healthCheck.downOutOfPeriods) {
    fail(
      "healthDownPeriods",
      `${healthCheck.downPeriods} exceeds healthDownOutOfPeriods (${healthCheck.downOutOfPeriods})`,
    );
  }

  const storagePercent = integer("storageAlarmPercent", 80, 1, 99);
  const rotation = {
    databasePasswordDays: integer("rotationDatabasePasswordDays", 30, 1, 1000),
    appSecretDays: integer("rotationAppSecretDays", 90, 1, 1000),
    strategy: oneOf<RotationStrategy>(
      "rotationStrategy",
      ["single-user", "alternating-users"],
      "single-user",
    ),
    appSecretNames: list("appSecretNames", ["NEXTAUTH_SECRET", "JWT_SECRET"]),
    restartMode: oneOf<RestartMode>("restartMode", ["none", "ecs", "webhook"], "none"),
    restartEcsCluster: optionalText("restartEcsCluster"),
    restartEcsServices: list("restartEcsServices"),
    restartWebhookUrl: optionalText("restartWebhookUrl"),
  };
  for (const name of rotation.appSecretNames) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name))
      fail("appSecretNames", `"${name}" must be an upper-case environment variable name`);
  }
  if (
    rotation.restartMode === "ecs" &&
    (!rotation.restartEcsCluster || rotation.restartEcsServices.length === 0)
  ) {
    fail("restartMode", '"ecs" needs restartEcsCluster and restartEcsServices');
  }
  if (rotation.restartMode === "webhook") {
    if (!rotation.restartWebhookUrl) fail("restartWebhookUrl", 'is required with restartMode "webhook"');
    else check("restartWebhookUrl", checkHttpsUrl(rotation.restartWebhookUrl));
  }

  const appDatabase = text("appDatabase", appName);
  const restoreTestDatabase = text("restoreTestDatabase", `${appDatabase}_restore_test`);
  if (restoreTestDatabase === appDatabase)
    fail("restoreTestDatabase", "must differ from appDatabase (the restore test drops it)");
  const backupDatabases = list("backupDatabases", [appDatabase]);
  if (backupDatabases.includes(restoreTestDatabase))
    fail("backupDatabases", "must not include the restore-test database");
  for (const db of [appDatabase, restoreTestDatabase, ...backupDatabases]) {
    if (!/^[A-Za-z0-9_-]{1,63}$/.test(db)) fail("appDatabase", `"${db}" is not a valid database name`);
  }
  // The restore test restores each backed-up database into its scratch name and drops it afterwards.
  for (const db of backupDatabases) {
    const scratch = scratchDatabaseName(db);
    if (scratch.length > 63)
      fail(
        "backupDatabases",
        `"${db}" is too long: its restore-test copy "${scratch}" exceeds 63 characters`,
      );
    if (scratch === appDatabase || backupDatabases.includes(scratch))
      fail(
        "backupDatabases",
        `the restore test would overwrite and drop "${scratch}" (scratch copy of "${db}")`,
      );
  }
  const logRetentionDays = integer("logRetentionDays", 90, 1);
  check("logRetentionDays", checkLogRetentionDays(logRetentionDays));
  const backupPrefix = text("backupPrefix", "");
  if (backupPrefix && !/^[A-Za-z0-9!_.*'()/-]+\/$/.test(backupPrefix))
    fail("backupPrefix", 'must end with "/" and use safe key characters');

  const sentryOrganization = optionalText("sentryOrganization");
  const sentryProject = optionalText("sentryProject");
  if (!!sentryOrganization !== !!sentryProject)
    fail(
      sentryOrganization ? "sentryProject" : "sentryOrganization",
      "is required with the other Sentry key",
    );
  const sentryApiUrl = text("sentryApiUrl", "https://sentry.io");
  check("sentryApiUrl", checkHttpsUrl(sentryApiUrl));
  const ordersNamespace = text("orderAnomalyCollection", "").trim();
  const tracked = newDocumentsNamespaces(optionalText("newDocumentsCollections"));
  if (ordersNamespace && !tracked.includes(ordersNamespace))
    fail(
      "orderAnomalyCollection",
      `"${ordersNamespace}" must be one of newDocumentsCollections (${tracked.join(", ") || "none"})`,
    );
  // Read even when unused, so the keys are never reported as unknown.
  const sentrySpikeEvents = integer("sentrySpikeEvents", 100, 1);
  const orderZeroDays = integer("orderZeroDays", 1, 1, 7);
  const orderAnomalyBand = integer("orderAnomalyBand", 2, 1, 10);
  const reviews: ReviewsConfig = {
    failedLoginsAlarm: integer("securityFailedLoginsAlarm", 25, 0),
    userChangesAlarm: integer("securityUserChangesAlarm", 6, 0),
    expectedSecretReaders: list("securityExpectedSecretReaders"),
    sentry:
      sentryOrganization && sentryProject
        ? {
            organization: sentryOrganization,
            project: sentryProject,
            apiUrl: sentryApiUrl,
            spikeEvents: sentrySpikeEvents,
          }
        : undefined,
    orders: ordersNamespace
      ? {
          database: ordersNamespace.slice(0, ordersNamespace.indexOf(".")),
          collection: ordersNamespace.slice(ordersNamespace.indexOf(".") + 1),
          zeroDays: orderZeroDays,
          anomalyBand: orderAnomalyBand,
        }
      : undefined,
  };
  for (const arn of reviews.expectedSecretReaders) {
    if (!/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/.test(arn))
      fail("securityExpectedSecretReaders", `"${arn}" is not an IAM role ARN`);
  }

  const config: AtlasOpsConfig = {
    appName,
    awsRegion,
    timeZone,
    atlas: {
      orgId,
      projectName: text("atlasProjectName", appName),
      regionName: text("atlasRegion", atlasRegionName(awsRegion)),
      clusterName: text("atlasClusterName", `${appName}-cluster`),
      instanceSize: instanceSize as AtlasInstanceSize,
      maxInstanceSize: maxInstanceSize as AtlasInstanceSize | undefined,
      diskSizeGb: integer("atlasDiskSizeGb", 10, 10, 4096),
      mongoDbMajorVersion: oneOf("atlasMongoDbMajorVersion", ["7.0", "8.0"], "8.0"),
      terminationProtection: flag("atlasTerminationProtection", true),
      snapshotRetentionDays: integer("atlasSnapshotRetentionDays", 7, 1, 365),
      apiBaseUrl: text("atlasApiBaseUrl", "https://cloud.mongodb.com"),
      // Above the 14-day warning of its expiry alarm, which would otherwise be red from the first day.
      adminSecretExpiresAfterDays: integer(
        "atlasAdminSecretExpiresAfterDays",
        90,
        ADMIN_SECRET_WARNING_DAYS + 1,
        365,
      ),
    },
    appDatabase,
    restoreTestDatabase,
    backupDatabases,
    network: { mode, vpcCidr, appAccessCidrs, natAccessWithPrivateLink },
    schedules,
    backupPrefix,
    retention,
    objectLock,
    contacts,
    healthCheck,
    alarms: {
      tlsCertDaysLeft: integer("tlsCertDaysLeftAlarm", 14, 1, 90),
      storageShare: storagePercent / 100,
      missedRunSlackMinutes: integer("missedRunSlackMinutes", 60, 5, 1440),
    },
    rotation,
    newDocumentsCollections: optionalText("newDocumentsCollections"),
    logRetentionDays,
    reviews,
  };
  for (const key of presentKeys) {
    if (!requested.has(key)) fail(key, "is not a setting of this stack (misspelled?)");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** "db.coll:field,db.coll" -> ["db.coll", ...] (the namespaces db-stats counts new documents in). */
function newDocumentsNamespaces(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((entry) => entry.trim().split(":")[0] ?? "")
    .filter((ns) => ns.includes("."));
}

/** Reads the `atlas-ops:*` keys of the current stack and the provider's `aws:region`. */
export function readConfig(): AtlasOpsConfig {
  const config = new pulumi.Config("atlas-ops");
  const awsRegion = new pulumi.Config("aws").get("region") ?? process.env.AWS_REGION;
  if (!awsRegion)
    throw new ConfigError(["aws:region: is required (pulumi config set aws:region eu-central-1)"]);
  const presentKeys = Object.keys(pulumi.runtime.allConfig())
    .filter((key) => key.startsWith("atlas-ops:"))
    .map((key) => key.slice("atlas-ops:".length));
  return parseConfig((key) => config.get(key), awsRegion, presentKeys);
}
