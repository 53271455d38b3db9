import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { ofType } from "../infra/mocks";
import { runStack } from "../infra/stack-run";

/**
 * The runbook has one row for every line of the application team's maintenance guide (issue 16 item 5),
 * and the Dependabot file it hands to the application is a valid Dependabot v2 configuration.
 */
const root = join(__dirname, "..", "..");
const runbook = readFileSync(join(root, "docs", "runbook.md"), "utf8");

/** Each line of the guide, as its first table cell names it (section, then the guide's own words). */
const GUIDE_LINES = [
  "**Daily**: Monitor error logs in Sentry",
  "**Daily**: Check application health endpoint",
  "**Daily**: Review order submissions",
  "**Weekly**: Review database growth",
  "**Weekly**: Check backup integrity",
  "**Weekly**: Review security logs",
  "**Weekly**: Update dependencies (if needed)",
  "**Monthly**: Full backup restoration test",
  "**Monthly**: Security audit",
  "**Monthly**: Performance review",
  "**Monthly**: Dependency updates",
  "**Backup schedule**: daily backup",
  "**Backup schedule**: weekly full backup",
  "**Growth monitoring**: check database size",
  "**Growth monitoring**: check collection sizes",
  "**Index maintenance**: review query performance",
  "**Index maintenance**: add indexes for slow queries",
  "**Index maintenance**: remove unused indexes",
  "**Rotating NEXTAUTH_SECRET**",
  "**Rotating JWT_SECRET**",
  "**Rotating Database Password**",
  "**Crontab**: daily backup at 2 AM",
  "**Crontab**: weekly cleanup of old backups",
  "**Crontab**: daily health check notification",
  "**Check for updates**",
  "**Update patch versions**",
  "**Update major versions**",
  "**Security updates**",
  "**Key metrics**: response times",
  "**Key metrics**: error rates",
  "**Key metrics**: database query performance",
  "**Key metrics**: memory usage",
  "**Key metrics**: CPU usage",
  "**Tools**: Sentry for error tracking",
  "**Tools**: Vercel Analytics (if using Vercel)",
  "**Tools**: MongoDB Atlas monitoring",
  "**Tools**: server monitoring (if self-hosted)",
  "**Backup restoration**",
  "**Database recovery**",
  "**Application won't start**",
  "**High error rate**",
  "**Slow performance**",
  "**Technical issues**",
  "**Security issues**",
  "**Hosting provider**",
];

const rows = runbook
  .split("\n")
  .filter((line) => line.startsWith("| ") && !line.startsWith("| ---") && !line.startsWith("| guide line"))
  .map((line) =>
    line
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim())
      .slice(1, -1),
  );

describe("the runbook", () => {
  it("has exactly one row for every line of the maintenance guide, each with all four columns filled", () => {
    for (const line of GUIDE_LINES) {
      const matching = rows.filter((cells) => cells[0]!.startsWith(line));
      expect(matching, line).toHaveLength(1);
      const [, automates, see, alarm] = matching[0]!;
      expect(automates, line).not.toBe("");
      expect(see, line).not.toBe("");
      expect(alarm, line).not.toBe("");
    }
  });

  it("names only alarms the stack creates", async () => {
    const { resources } = await runStack({ sentryOrganization: "o", sentryProject: "p" });
    const alarms = new Set(
      ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").map((alarm) => alarm.inputs.name as string),
    );
    const named = [...runbook.matchAll(/`(opendev-[a-z0-9-]+)`/g)].map((m) => m[1]!);
    const concrete = named.filter(
      (name) =>
        !name.includes("<") &&
        /-(failed|errors|missed-run|dead-letters|down|p95|expiring|old|high|spike|none|normal|logins|changes|opened|created|reads|changed)$/.test(
          name,
        ),
    );
    expect(concrete.length).toBeGreaterThan(15);
    for (const name of concrete) expect(alarms.has(name), name).toBe(true);
  }, 120_000);
});

describe("the application's Dependabot file", () => {
  const config = load(readFileSync(join(root, "docs", "application", "dependabot.yml"), "utf8")) as {
    version: number;
    updates: {
      "package-ecosystem": string;
      directory: string;
      schedule: { interval: string };
      groups?: Record<string, { "update-types"?: string[]; patterns?: string[] }>;
    }[];
  };

  it("is Dependabot v2 with an npm entry that groups minor and patch updates", () => {
    expect(config.version).toBe(2);
    for (const update of config.updates) {
      expect(["npm", "github-actions"]).toContain(update["package-ecosystem"]);
      expect(update.directory).toMatch(/^\//);
      expect(["daily", "weekly", "monthly"]).toContain(update.schedule.interval);
    }
    const npm = config.updates.find((u) => u["package-ecosystem"] === "npm")!;
    expect(npm.groups?.["minor-and-patch"]?.["update-types"]).toEqual(["minor", "patch"]);
  });
});
