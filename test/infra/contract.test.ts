import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBackupConfig } from "../../lambdas/backup/config";
import { readCommonConfig, readEnv, type Environment, type EnvReader } from "../../lambdas/core/config/env";
import { JOB_METRICS, type MetricJob } from "../../lambdas/core/metrics-catalog";
import { loadDailyReportConfig } from "../../lambdas/daily-report/config";
import { loadDbStatsConfig } from "../../lambdas/db-stats/config";
import { loadHealthCheckConfig } from "../../lambdas/health-check/config";
import { loadRestoreTestConfig } from "../../lambdas/restore-test/config";
import { loadAppSecretRotationConfig } from "../../lambdas/rotate-app-secret/config";
import { loadMongodbPasswordRotationConfig } from "../../lambdas/rotate-mongodb-password/config";
import { loadVerifyBackupConfig } from "../../lambdas/verify-backup/config";
import { loadSecurityReviewConfig } from "../../lambdas/security-review/config";
import { loadPerformanceReviewConfig } from "../../lambdas/performance-review/config";
import { testEnv, uniqueName } from "../support/env";
import { createSecret, credentialsFor } from "../lambdas/support/aws";
import { coldStart, invoke } from "../lambdas/support/invoke";
import { ofType, type RecordedResource } from "./mocks";
import { runStack } from "./stack-run";

/**
 * The contract between infra and the handlers, checked by running both: the config loaders read the
 * environment infra gives each Lambda, and every metric an alarm or the dashboard names is one a handler
 * emits with exactly those dimensions (checked against the catalog, and the catalog against real EMF output).
 */
const LOADERS: Record<MetricJob, (env: EnvReader) => unknown> = {
  backup: loadBackupConfig,
  "verify-backup": loadVerifyBackupConfig,
  "restore-test": loadRestoreTestConfig,
  "health-check": loadHealthCheckConfig,
  "db-stats": loadDbStatsConfig,
  "daily-report": loadDailyReportConfig,
  "security-review": loadSecurityReviewConfig,
  "performance-review": loadPerformanceReviewConfig,
  "rotate-app-secret": loadAppSecretRotationConfig,
  "rotate-mongodb-password": loadMongodbPasswordRotationConfig,
};
const root = join(__dirname, "..", "..");
const source = (path: string) => readFileSync(join(root, path), "utf8");

/** Read by every job outside its loader; each entry names the file that reads it (checked below). */
const READ_BY_EVERY_JOB: Record<string, string> = {
  SENTRY_DSN: "lambdas/adapters/job-handler.ts",
  METRICS_NAMESPACE: "lambdas/adapters/observability.ts",
  APP_NAME: "lambdas/adapters/observability.ts",
  // Powertools Logger reads it itself (Lambda's JSON log format also honours it).
  LOG_LEVEL: "node_modules/@aws-lambda-powertools/logger/lib/cjs/Logger.js",
};

/** Runs the job's own loader (and the common one) on `env`, recording every variable it looks at. */
function loadRecording(job: MetricJob, env: Environment): Set<string> {
  const read = new Set<string>(Object.keys(READ_BY_EVERY_JOB));
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === "string") read.add(key);
      return target[key as string];
    },
  });
  const reader = readEnv(recording);
  readCommonConfig(reader);
  LOADERS[job](reader);
  return read;
}

const functionsOf = (resources: RecordedResource[]) =>
  ofType(resources, "aws:lambda/function:Function").map((fn) => ({
    job: String(fn.inputs.name).replace(/^opendev-/, "") as MetricJob,
    env: fn.inputs.environment.variables as Record<string, string>,
  }));

describe("environment: infra <-> each Lambda's config loader", () => {
  it("names files that really read the variables every job reads", () => {
    for (const [variable, file] of Object.entries(READ_BY_EVERY_JOB))
      expect(source(file)).toContain(variable);
  });

  it.each([
    ["restart none", {}],
    [
      "restart webhook",
      { restartMode: "webhook", restartWebhookUrl: "https://shop.example.com/hooks/restart" },
    ],
    ["restart ecs", { restartMode: "ecs", restartEcsCluster: "shop", restartEcsServices: '["web"]' }],
  ])(
    "%s: every Lambda loads its config from what infra sets, and infra sets nothing unread",
    async (_, overrides) => {
      const functions = functionsOf((await runStack(overrides)).resources);
      expect(functions.map((fn) => fn.job).sort()).toEqual(Object.keys(LOADERS).sort());
      const documented = source("docs/configuration.md");
      for (const { job, env } of functions) {
        let read = new Set<string>();
        expect(() => (read = loadRecording(job, env)), job).not.toThrow();
        const unread = Object.keys(env).filter((variable) => !read.has(variable));
        expect(unread, `${job}: set by infra but read by nobody`).toEqual([]);
        const defaulted = [...read].filter((variable) => !(variable in env));
        const undocumented = defaulted.filter((variable) => !documented.includes(`\`${variable}\``));
        expect(
          undocumented,
          `${job}: read with a default that docs/configuration.md does not document`,
        ).toEqual([]);
      }
    },
  );
});

type DimensionSets = readonly (readonly string[])[];
const BASE = ["service", "App", "Job"];
const extraOf = (names: string[]) =>
  names
    .filter((name) => !BASE.includes(name))
    .sort()
    .join(",");
const catalogHas = (job: string, metric: string, extra: string): boolean =>
  ((JOB_METRICS as Record<string, Record<string, DimensionSets>>)[job]?.[metric] ?? []).some(
    (set) => [...set].sort().join(",") === extra,
  );

describe("metrics: alarms and dashboard <-> what handlers emit", () => {
  let resources: RecordedResource[];
  beforeAll(async () => {
    resources = (await runStack()).resources;
  });

  it("every AtlasOps metric an alarm watches is emitted with exactly its dimensions", () => {
    const refs = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").flatMap((alarm) => [
      ...(alarm.inputs.namespace ? [{ alarm: alarm.inputs.name, ...alarm.inputs }] : []),
      ...(alarm.inputs.metricQueries ?? [])
        .filter((query: { metric?: unknown }) => query.metric)
        .map((query: { metric: Record<string, unknown> }) => ({ alarm: alarm.inputs.name, ...query.metric })),
    ]);
    const ours = refs.filter((ref) => ref.namespace === "AtlasOps");
    expect(ours.length).toBeGreaterThan(10);
    for (const ref of ours) {
      const dimensions = ref.dimensions as Record<string, string>;
      expect(
        BASE.every((name) => name in dimensions),
        ref.alarm,
      ).toBe(true);
      expect(catalogHas(dimensions.Job!, ref.metricName, extraOf(Object.keys(dimensions))), ref.alarm).toBe(
        true,
      );
    }
    const rotationAlarms = ours.filter((ref) => String(ref.metricName).startsWith("Rotation"));
    expect(rotationAlarms.map((ref) => ref.dimensions)).toContainEqual({
      service: "atlas-ops",
      App: "opendev",
      Job: "rotate-mongodb-password",
    });
  });

  it("every AtlasOps metric on the dashboard is emitted with exactly its dimensions", () => {
    const body = JSON.parse(ofType(resources, "aws:cloudwatch/dashboard:Dashboard")[0]!.inputs.dashboardBody);
    const lines = (body.widgets as { properties: { metrics: unknown[][] } }[])
      .flatMap((widget) => widget.properties.metrics)
      .filter((line) => line[0] === "AtlasOps");
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      const pairs = line.slice(2).filter((item) => typeof item === "string") as string[];
      const dimensions = Object.fromEntries(
        pairs.flatMap((_, i) => (i % 2 ? [] : [[pairs[i], pairs[i + 1]]])),
      );
      const label = JSON.stringify(line);
      expect(catalogHas(dimensions.Job, line[1] as string, extraOf(Object.keys(dimensions))), label).toBe(
        true,
      );
    }
  });
});

/** Every (metric, dimension set) in EMF output lines: the exact sets CloudWatch will create. */
function emitted(lines: string[]): { job: string; metric: string; extra: string }[] {
  const found: { job: string; metric: string; extra: string }[] = [];
  for (const line of lines) {
    if (!line.startsWith('{"_aws"')) continue;
    const record = JSON.parse(line) as {
      _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] };
      Job: string;
    };
    for (const directive of record._aws.CloudWatchMetrics) {
      for (const set of directive.Dimensions) {
        for (const { Name } of directive.Metrics)
          found.push({ job: record.Job, metric: Name, extra: extraOf(set) });
      }
    }
  }
  return found;
}

describe("the catalog <-> what handlers really emit", () => {
  const services = testEnv();
  let client: MongoClient;
  let database: string;
  beforeAll(async () => {
    database = uniqueName("contract").replace(/-/g, "_");
    client = new MongoClient(services.mongodbAuthUri);
    await client.connect();
    await client
      .db(database)
      .collection("orders")
      .insertMany([{ n: 1 }, { n: 2 }]);
  });
  afterAll(async () => {
    await client?.db(database).dropDatabase();
    await client?.close();
  });

  it("health-check and db-stats emit only catalogued metrics, with the catalogued dimension sets", async () => {
    const server = createServer((_, res) => res.writeHead(200).end('{"status":"ok"}'));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const health = await coldStart("lambdas/health-check/handler", {
        HEALTH_CHECK_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`,
      });
      const secretId = await createSecret(
        uniqueName("contract/credentials"),
        credentialsFor(services.mongodbAuthUri, { database }),
      );
      const stats = await coldStart("lambdas/db-stats/handler", {
        MONGODB_SECRET_ID: secretId,
        STATS_DATABASES: database,
        NEW_DOCUMENTS_COLLECTIONS: `${database}.orders`,
      });
      const runs = [await invoke(health, {}), await invoke(stats, {})];
      for (const run of runs) expect(run.error).toBeUndefined();
      const found = runs.flatMap((run) => emitted(run.lines));
      expect(found.map(({ job, metric }) => `${job}/${metric}`).sort()).toEqual(
        expect.arrayContaining([
          "db-stats/DataSizeBytes",
          "db-stats/NewDocuments",
          "health-check/HealthCheckUp",
        ]),
      );
      for (const { job, metric, extra } of found) {
        expect(catalogHas(job, metric, extra), `${job} ${metric} {${extra}}`).toBe(true);
      }
    } finally {
      server.close();
    }
  });
});
