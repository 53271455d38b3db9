import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { alarmSpecs } from "../../infra/alarms";
import { ConfigError, parseConfig, readConfig } from "../../infra/config";
import { dstGaps } from "../../infra/dst";
import {
  checkEmail,
  checkInstanceSize,
  checkScheduleExpression,
  checkTimeZone,
  longestIntervalHours,
} from "../../infra/config-rules";
import { REGION } from "./mocks";
import { prodStackValues, testConfig, testStackValues as testValues } from "./stack-config";

function problemsOf(values: Record<string, string>): string[] {
  try {
    parseConfig((key) => values[key], REGION, Object.keys(values));
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("schedule expressions", () => {
  it.each([
    "cron(0 2 * * ? *)",
    "cron(0 3 ? * SUN *)",
    "cron(0 4 1 * ? *)",
    "cron(0/15 8-18 ? * MON-FRI *)",
    "cron(0 5 L * ? 2027)",
    "rate(5 minutes)",
    "rate(1 hour)",
  ])("accepts %s", (expression) => {
    expect(checkScheduleExpression(expression)).toBeUndefined();
  });

  it.each([
    ["0 2 * * *", "must be"],
    ["cron(0 2 * * *)", "6 fields"],
    ["cron(0 25 * * ? *)", "hours"],
    ["cron(61 2 * * ? *)", "minutes"],
    ["cron(0 2 * * * *)", 'exactly one of day-of-month and day-of-week must be "?"'],
    ["cron(0 2 ? * ? *)", 'exactly one of day-of-month and day-of-week must be "?"'],
    ["cron(0 2 * * FUNDAY *)", "day-of-week"],
    ["rate(1 minutes)", "singular"],
    ["rate(5 minute)", "plural"],
    ["rate(0 minutes)", "at least 1"],
  ])("rejects %s", (expression, message) => {
    expect(checkScheduleExpression(expression)).toContain(message);
  });

  it("knows the longest gap between runs", () => {
    expect(longestIntervalHours("cron(0 2 * * ? *)")).toBe(24);
    expect(longestIntervalHours("cron(0 3 ? * SUN *)")).toBe(168);
    expect(longestIntervalHours("cron(0 3 ? * MON,THU *)")).toBe(96);
    expect(longestIntervalHours("cron(0 4 1 * ? *)")).toBe(744);
    expect(longestIntervalHours("cron(0 2,14 * * ? *)")).toBe(12);
    expect(longestIntervalHours("rate(5 minutes)")).toBeCloseTo(5 / 60);
    expect(longestIntervalHours("rate(2 days)")).toBe(48);
  });
});

describe("single values", () => {
  it("checks time zones, e-mail addresses and instance sizes", () => {
    expect(checkTimeZone("Europe/Berlin")).toBeUndefined();
    expect(checkTimeZone("UTC")).toBeUndefined();
    expect(checkTimeZone("Europe/Gotham")).toContain("not an IANA time zone");
    expect(checkEmail("ops@example.com")).toBeUndefined();
    expect(checkEmail("ops@example")).toContain("not an e-mail address");
    expect(checkInstanceSize("M10")).toBeUndefined();
    expect(checkInstanceSize("M0")).toContain("shared and Flex tiers have no cloud backup schedule");
    expect(checkInstanceSize("M11")).toContain('unknown instance size "M11"');
  });
});

describe("the stack configuration", () => {
  it("refuses Pulumi.prod.yaml until its placeholders are replaced, naming each key", () => {
    const problems = problemsOf(prodStackValues());
    expect(problems).toEqual([
      expect.stringContaining("atlas-ops:atlasOrgId: still holds the placeholder"),
      expect.stringContaining("atlas-ops:technicalContacts: still holds the placeholder"),
      expect.stringContaining("atlas-ops:securityContacts: still holds the placeholder"),
      expect.stringContaining("atlas-ops:healthCheckUrl: still holds the placeholder"),
    ]);
  });

  it("finds the zone's daylight-saving gaps with the Intl API", () => {
    const from = Date.UTC(2026, 11, 1);
    expect(dstGaps("Europe/Berlin", from, 730)).toEqual([
      { date: "2027-03-28", from: "02:00", to: "03:00" },
      { date: "2028-03-26", from: "02:00", to: "03:00" },
    ]);
    expect(dstGaps("America/New_York", from, 365)).toEqual([
      { date: "2027-03-14", from: "02:00", to: "03:00" },
    ]);
    expect(dstGaps("Australia/Lord_Howe", from, 365)).toEqual([
      { date: "2027-10-03", from: "02:00", to: "02:30" },
    ]);
    expect(dstGaps("UTC", from, 730)).toEqual([]);
  });

  it("refuses a schedule inside the zone's daylight-saving gap, naming the skipped runs", () => {
    const now = Date.UTC(2026, 11, 1);
    const parse = (overrides: Record<string, string>) => {
      const values = testValues(overrides);
      return () => parseConfig((key) => values[key], REGION, [], now);
    };
    // The old cron's 2 AM: Europe/Berlin skips from 02:00 to 03:00 on the last Sunday of March.
    expect(parse({ scheduleBackupDaily: "cron(0 2 * * ? *)" })).toThrow(
      /atlas-ops:scheduleBackupDaily: runs at a time that does not exist in Europe\/Berlin .* 2027-03-28 02:00, 2028-03-26 02:00/,
    );
    expect(parse({ scheduleBackupWeekly: "cron(30 2 ? * SUN *)" })).toThrow(
      /scheduleBackupWeekly: .* 2027-03-28 02:30/,
    );
    expect(parse({ scheduleBackupDaily: "cron(0 1 * * ? *)", timeZone: "Europe/London" })).toThrow(
      /Europe\/London .* 2027-03-28 01:00/,
    );
    // Outside the gap, on days without one, or in a zone without daylight saving time: fine.
    expect(parse({ scheduleBackupDaily: "cron(0 3 * * ? *)" })).not.toThrow();
    expect(parse({ scheduleBackupMonthly: "cron(0 2 1 * ? *)" })).not.toThrow();
    expect(parse({ scheduleBackupDaily: "cron(0 2 * * ? *)", timeZone: "UTC" })).not.toThrow();
    // Every default exists every day in the zones the gap search knows.
    for (const timeZone of [
      "Europe/Berlin",
      "Europe/London",
      "Europe/Helsinki",
      "America/New_York",
      "America/Santiago",
      "Australia/Sydney",
    ]) {
      const values = { ...testValues({ timeZone }) };
      for (const key of Object.keys(values)) if (key.startsWith("schedule")) delete values[key];
      expect(() => parseConfig((key) => values[key], REGION, [], now), timeZone).not.toThrow();
    }
  });

  it("gives missed-run alarms room for the 25-hour day in a zone with daylight saving time", () => {
    const now = Date.UTC(2026, 11, 1);
    const jobs = [
      { job: "health-check" as const, functionName: "opendev-health-check", schedules: [] },
      {
        job: "backup" as const,
        functionName: "opendev-backup",
        schedules: [
          {
            id: "backup-daily",
            job: "backup" as const,
            scheduleKey: "backupDaily" as const,
            expression: "cron(30 4 * * ? *)",
            input: {},
            successMetric: "BackupSucceeded",
          },
        ],
      },
    ];
    const window = (timeZone: string) =>
      alarmSpecs(testConfig({ timeZone }), jobs, now).find((a) => a.id === "backup-missed-run");
    // 24 h between runs, + 1 h for the day the clocks fall back, + 60 min slack.
    expect(window("Europe/Berlin")).toMatchObject({ period: 3600, evaluationPeriods: 26 });
    expect(window("UTC")).toMatchObject({ period: 3600, evaluationPeriods: 25 });
  });

  it("reads every key of the filled-in stack file into the typed config", () => {
    const config = testConfig();
    expect(config).toMatchObject({
      appName: "opendev",
      awsRegion: "eu-central-1",
      timeZone: "Europe/Berlin",
      atlas: { regionName: "EU_CENTRAL_1", instanceSize: "M10", maxInstanceSize: "M30", diskSizeGb: 10 },
      appDatabase: "opendev",
      restoreTestDatabase: "opendev_restore_test",
      backupDatabases: ["opendev"],
      network: { mode: "nat", vpcCidr: "10.20.0.0/16", appAccessCidrs: [] },
      schedules: { backupDaily: "cron(30 4 * * ? *)", healthCheck: "rate(5 minutes)" },
      retention: { daily: 30, weekly: 90, monthly: 365, noncurrentVersionDays: 7, coldStorageAfterDays: 0 },
      objectLock: { mode: "none", days: 0 },
      contacts: { technical: ["ops@example.com"], security: ["security@example.com"] },
      healthCheck: { expect: "status=ok", downPeriods: 2, downOutOfPeriods: 3, latencyP95Ms: 2000 },
      alarms: { storageShare: 0.8, tlsCertDaysLeft: 14 },
      rotation: {
        appSecretNames: ["NEXTAUTH_SECRET", "JWT_SECRET"],
        restartMode: "none",
        strategy: "single-user",
      },
      logRetentionDays: 90,
    });
  });

  it.each([
    ["timeZone", "Mars/Olympus", 'atlas-ops:timeZone: "Mars/Olympus" is not an IANA time zone'],
    [
      "scheduleBackupDaily",
      "cron(0 2 * * *)",
      "atlas-ops:scheduleBackupDaily: a cron expression has 6 fields",
    ],
    [
      "retentionWeeklyDays",
      "5",
      "atlas-ops:retentionWeeklyDays: 5 days is not longer than the 168 h between weekly backups",
    ],
    ["retentionMonthlyDays", "30", "atlas-ops:retentionMonthlyDays: 30 days is not longer than the 744 h"],
    ["retentionDailyDays", "ten", "atlas-ops:retentionDailyDays: must be a whole number"],
    [
      "technicalContacts",
      '["ops@example"]',
      'atlas-ops:technicalContacts: "ops@example" is not an e-mail address',
    ],
    ["technicalContacts", "[]", "atlas-ops:technicalContacts: needs at least one e-mail address"],
    ["atlasInstanceSize", "M15", 'atlas-ops:atlasInstanceSize: unknown instance size "M15"'],
    ["atlasOrgId", "my-org", "atlas-ops:atlasOrgId: must be the 24-hex-digit organization id"],
    ["networkMode", "public-unsafe", 'atlas-ops:networkMode: "public-unsafe" opens Atlas to 0.0.0.0/0'],
    ["networkMode", "vpn", "atlas-ops:networkMode: must be one of nat, privatelink, public-unsafe"],
    [
      "atlasAppAccessCidrs",
      '["0.0.0.0/0"]',
      "atlas-ops:atlasAppAccessCidrs: 0.0.0.0/0 opens Atlas to the whole internet",
    ],
    [
      "atlasAppAccessCidrs",
      '["203.0.113.300/32"]',
      'atlas-ops:atlasAppAccessCidrs: "203.0.113.300/32" is not an IPv4 CIDR',
    ],
    ["vpcCidr", "10.0.0.0/24", "atlas-ops:vpcCidr: must be /20 or larger"],
    [
      "healthCheckUrl",
      "http://shop.example.com/health",
      'atlas-ops:healthCheckUrl: "http://shop.example.com/health" must use https',
    ],
    ["healthCheckExpect", "status", 'atlas-ops:healthCheckExpect: must be "field=value"'],
    ["healthDownPeriods", "4", "atlas-ops:healthDownPeriods: 4 exceeds healthDownOutOfPeriods (3)"],
    ["logRetentionDays", "45", "atlas-ops:logRetentionDays: 45 is not one of"],
    ["restoreTestDatabase", "opendev", "atlas-ops:restoreTestDatabase: must differ from appDatabase"],
    ["restartMode", "ecs", 'atlas-ops:restartMode: "ecs" needs restartEcsCluster and restartEcsServices'],
    ["restartMode", "webhook", 'atlas-ops:restartWebhookUrl: is required with restartMode "webhook"'],
    [
      "appSecretNames",
      '["nextauth-secret"]',
      'atlas-ops:appSecretNames: "nextauth-secret" must be an upper-case',
    ],
    ["backupPrefix", "backups", 'atlas-ops:backupPrefix: must end with "/"'],
    ["atlasTerminationProtection", "yes", "atlas-ops:atlasTerminationProtection: must be true or false"],
    ["coldStorageClass", "ONEZONE", "atlas-ops:coldStorageClass: must be one of"],
    [
      "backupDatabases",
      '["opendev", "restoretest_opendev"]',
      'atlas-ops:backupDatabases: the restore test would overwrite and drop "restoretest_opendev"',
    ],
    [
      "backupDatabases",
      `["${"d".repeat(60)}"]`,
      'atlas-ops:backupDatabases: "' + "d".repeat(60) + '" is too long',
    ],
  ])("rejects %s = %s", (key, value, message) => {
    const problems = problemsOf({ ...testValues(), [key]: value });
    expect(problems.join("\n")).toContain(message);
  });

  it("rejects Object Lock longer than daily retention and Object Lock without days", () => {
    expect(problemsOf({ ...testValues(), objectLockMode: "COMPLIANCE", objectLockDays: "60" })).toEqual([
      expect.stringContaining("atlas-ops:objectLockDays: 60 days exceeds retentionDailyDays (30)"),
    ]);
    expect(problemsOf({ ...testValues(), objectLockMode: "GOVERNANCE" })).toEqual([
      expect.stringContaining("atlas-ops:objectLockDays: must be at least 1 with Object Lock on"),
    ]);
  });

  it("accepts the unsafe mode only together with its explicit flag", () => {
    const config = testConfig({ networkMode: "public-unsafe", unsafeAllowAtlasAccessFromAnywhere: "true" });
    expect(config.network.mode).toBe("public-unsafe");
  });

  it("reports a misspelled key instead of silently using the default", () => {
    expect(problemsOf({ ...testValues(), retentionDaliyDays: "60" })).toEqual([
      "atlas-ops:retentionDaliyDays: is not a setting of this stack (misspelled?)",
    ]);
  });

  it("reports every bad key at once", () => {
    const problems = problemsOf({
      ...testValues(),
      timeZone: "Nowhere",
      atlasInstanceSize: "M1",
      logRetentionDays: "2",
    });
    expect(problems).toHaveLength(3);
  });
});

describe("reading the stack", () => {
  it("reads atlas-ops:* and aws:region from the Pulumi engine's config and rejects unknown keys", () => {
    const values = Object.fromEntries(Object.entries(testValues()).map(([k, v]) => [`atlas-ops:${k}`, v]));
    pulumi.runtime.setAllConfig({ ...values, "aws:region": "eu-west-1" });
    const config = readConfig();
    expect(config.awsRegion).toBe("eu-west-1");
    expect(config.atlas.regionName).toBe("EU_CENTRAL_1");
    pulumi.runtime.setAllConfig({ ...values, "aws:region": "eu-west-1", "atlas-ops:timezone": "UTC" });
    expect(() => readConfig()).toThrow("atlas-ops:timezone: is not a setting of this stack (misspelled?)");
  });
});
