import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AtlasMeasurement } from "../../lambdas/core/atlas/atlas-reads";
import { testEnv, uniqueName } from "../support/env";
import { isFerretDb } from "../support/seed";
import { createSecret, createTopicWithQueue, credentialsFor, type TopicWithQueue } from "./support/aws";
import { clusterNodes, startAtlasReviewFixture, type AtlasReviewFixture } from "./support/atlas-reviews";
import { coldStart, invoke, type Env, type Invocation } from "./support/invoke";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const NAMESPACE = "AtlasOpsPerformanceTest";
const services = testEnv();
const PRIMARY = "opendev-cluster-shard-00-01.ab1cd.mongodb.net:27017";

let topic: TopicWithQueue;
let client: MongoClient;
let database: string;
let mongoSecret: string;
const fixtures: AtlasReviewFixture[] = [];

beforeAll(async () => {
  topic = await createTopicWithQueue(uniqueName("performance"));
  database = uniqueName("perf").replace(/-/g, "_");
  client = new MongoClient(services.mongodbAuthUri);
  await client.connect();
  await client
    .db(database)
    .collection("orders")
    .insertMany([{ status: "paid" }, { status: "new" }]);
  await client.db(database).collection("orders").createIndex({ status: 1 });
  mongoSecret = await createSecret(
    uniqueName("perf/credentials"),
    credentialsFor(services.mongodbAuthUri, { database }),
  );
});

afterAll(async () => {
  for (const fixture of fixtures) await fixture.atlas.close();
  await client?.db(database).dropDatabase();
  await client?.close();
});

/** 24 hourly points ending now; `null` where Atlas had no data that hour. */
function hourly(name: string, units: string, value: (hour: number) => number | null): AtlasMeasurement {
  return {
    name,
    units,
    dataPoints: Array.from({ length: 24 }, (_, hour) => ({
      timestamp: new Date(Date.now() - (24 - hour) * HOUR).toISOString(),
      value: value(hour),
    })),
  };
}

async function fixture(
  roles: Parameters<typeof startAtlasReviewFixture>[0] = ["GROUP_READ_ONLY", "GROUP_OBSERVABILITY_VIEWER"],
) {
  const started = await startAtlasReviewFixture(roles);
  fixtures.push(started);
  started.state.processes.push(...clusterNodes());
  return started;
}

async function run(atlas: AtlasReviewFixture, event: unknown, env: Env = {}): Promise<Invocation> {
  const handler = await coldStart("lambdas/performance-review/handler", {
    METRICS_NAMESPACE: NAMESPACE,
    REPORT_TOPIC_ARN: topic.topicArn,
    MONGODB_SECRET_ID: mongoSecret,
    STATS_DATABASES: database,
    ...atlas.env,
    ...env,
  });
  return invoke(handler, event);
}

const values = (invocation: Invocation, name: string) =>
  invocation.metrics
    .filter((m) => m.name === name)
    .flatMap((m) => (Array.isArray(m.value) ? m.value : [m.value]));

describe("performance-review handler, daily", () => {
  it("turns the primary's hourly Atlas measurements into CloudWatch metrics", async () => {
    const atlas = await fixture();
    atlas.state.measurements.set(PRIMARY, [
      hourly("PROCESS_NORMALIZED_CPU_USER", "PERCENT", (h) => (h === 3 ? null : 10 + h)),
      hourly("MEMORY_RESIDENT", "MEGABYTES", () => 812),
      hourly("CONNECTIONS", "SCALAR", (h) => 20 + (h % 4)),
      hourly("OPCOUNTER_QUERY", "SCALAR_PER_SECOND", () => 35.5),
      hourly("OPCOUNTER_INSERT", "SCALAR_PER_SECOND", () => 1.25),
      hourly("OPCOUNTER_UPDATE", "SCALAR_PER_SECOND", () => 0.5),
      hourly("OPCOUNTER_DELETE", "SCALAR_PER_SECOND", () => 0),
      hourly("QUERY_TARGETING_SCANNED_OBJECTS_PER_RETURNED", "SCALAR", () => 1800),
    ]);
    atlas.state.diskMeasurements.set(PRIMARY, [
      hourly("DISK_PARTITION_IOPS_TOTAL", "SCALAR_PER_SECOND", () => 42),
      hourly("DISK_PARTITION_LATENCY_READ", "MILLISECONDS", () => 1.5),
      hourly("DISK_PARTITION_LATENCY_WRITE", "MILLISECONDS", () => 2.5),
    ]);
    // A secondary's figures must not be taken for the primary's.
    atlas.state.measurements.set("opendev-cluster-shard-00-00.ab1cd.mongodb.net:27017", [
      hourly("PROCESS_NORMALIZED_CPU_USER", "PERCENT", () => 99),
    ]);

    const daily = await run(atlas, { source: "aws.scheduler" });

    expect(daily.error).toBeUndefined();
    expect(values(daily, "PerformanceReviewSucceeded")).toEqual([1]);
    const cpu = values(daily, "AtlasCpuPercent");
    expect(cpu).toHaveLength(23);
    expect(Math.max(...cpu)).toBe(33);
    expect(values(daily, "AtlasMemoryResidentMb")).toEqual(Array(24).fill(812));
    expect(values(daily, "AtlasQueryTargeting")[0]).toBe(1800);
    expect(values(daily, "AtlasDiskIops")).toHaveLength(24);
    expect(values(daily, "AtlasDiskWriteLatencyMs")[0]).toBe(2.5);
    const metric = daily.metrics.find((m) => m.name === "AtlasCpuPercent")!;
    expect(metric.unit).toBe("Percent");
    expect(metric.dimensions).toEqual({ service: "atlas-ops", App: "opendev", Job: "performance-review" });
    const measured = atlas.state.seen.filter((url) => url.pathname.endsWith("/measurements"));
    expect(measured.every((url) => url.pathname.includes(encodeURIComponent(PRIMARY)))).toBe(true);
    expect(measured[0]!.searchParams.get("granularity")).toBe("PT1H");
    expect(measured[0]!.searchParams.get("period")).toBe("P1D");
  });

  it("fails naming the cluster when the project has no process of it", async () => {
    const atlas = await fixture();
    const daily = await run(atlas, {}, { ATLAS_CLUSTER_NAME: "missing-cluster" });
    expect(daily.error?.message).toMatch(
      /Atlas project [0-9a-f]{24} has no process of cluster missing-cluster/,
    );
    expect(values(daily, "PerformanceReviewSucceeded")).toEqual([0]);
  });

  it("rejects an unknown review kind", async () => {
    const atlas = await fixture();
    const bad = await run(atlas, { review: "weekly" });
    expect(bad.error?.message).toBe('event field "review" must be "daily" or "monthly" (got "weekly")');
  });
});

describe("performance-review handler, monthly", () => {
  it("mails trends, suggested indexes with their query shapes, slow queries and unused indexes", async () => {
    const atlas = await fixture();
    const app = uniqueName("perfapp");
    const cloudWatch = new CloudWatchClient({});
    const put = (job: string, name: string, value: number, daysAgo: number) =>
      cloudWatch.send(
        new PutMetricDataCommand({
          Namespace: NAMESPACE,
          MetricData: [
            {
              MetricName: name,
              Value: value,
              Timestamp: new Date(Date.now() - daysAgo * DAY),
              Dimensions: Object.entries({ service: "atlas-ops", App: app, Job: job }).map(
                ([Name, Value]) => ({ Name, Value }),
              ),
            },
          ],
        }),
      );
    await put("performance-review", "AtlasCpuPercent", 30, 5);
    await put("performance-review", "AtlasCpuPercent", 20, 40);
    await put("health-check", "HealthCheckLatencyMs", 240, 3);

    atlas.state.advisor.set(PRIMARY, {
      shapes: [
        { id: "shape-1", namespace: `${database}.orders`, avgMs: 420, count: 1500, inefficiencyScore: 9000 },
        { id: "shape-2", namespace: `${database}.orders`, avgMs: 180, count: 300, inefficiencyScore: 2000 },
      ],
      suggestedIndexes: [
        {
          id: "ix-1",
          namespace: `${database}.orders`,
          index: [{ customerId: 1 }, { createdAt: -1 }],
          weight: 0.8,
          impact: ["shape-1", "shape-2"],
        },
      ],
    });
    atlas.state.slowQueries.set(PRIMARY, [
      {
        namespace: `${database}.orders`,
        line: JSON.stringify({
          msg: "Slow query",
          attr: { ns: `${database}.orders`, durationMillis: 950, planSummary: "COLLSCAN" },
        }),
      },
      {
        namespace: `${database}.users`,
        line: JSON.stringify({
          msg: "Slow query",
          attr: { durationMillis: 130, planSummary: "IXSCAN { email: 1 }" },
        }),
      },
    ]);

    const monthly = await run(atlas, { review: "monthly" }, { APP_NAME: app });

    expect(monthly.error).toBeUndefined();
    expect(values(monthly, "SuggestedIndexes")).toEqual([1]);
    expect(values(monthly, "SlowQueries")).toEqual([2]);
    const [mail] = await topic.receive();
    expect(mail?.Subject).toMatch(new RegExp(`^\\[${app}\\] monthly performance review: `));
    const text = mail!.Message;
    expect(text).toContain("CPU (normalized): 30 % (+50.0% on 20 %)");
    expect(text).toContain("health check response time: 240 ms (no figure for the month before)");
    expect(text).toContain(
      `${database}.orders: createIndex({ customerId: 1, createdAt: -1 }) (helps 2 query shape(s), 1800 calls, up to 420 ms on average)`,
    );
    expect(text).toMatch(new RegExp(`950 ms ${database}\\.orders \\(COLLSCAN\\)`));
    if (await isFerretDb(client)) {
      expect(values(monthly, "UnusedIndexes")).toEqual([0]);
      expect(text).toMatch(/not checked: \$indexStats failed on /);
    } else {
      expect(text).toContain(`${database}.orders: status_1`);
    }
    const advisor = atlas.state.seen.find((url) => url.pathname.endsWith("/suggestedIndexes"))!;
    expect(Number(advisor.searchParams.get("since"))).toBeGreaterThan(Date.now() - 31 * DAY);
  });

  it("fails, naming the role, when the credentials cannot read slow query logs", async () => {
    const atlas = await fixture(["GROUP_READ_ONLY"]);
    const monthly = await run(atlas, { review: "monthly" });
    expect(monthly.error?.message).toMatch(
      /slowQueryLogs.*lack the Project Observability Viewer role .*\(403\)/,
    );
    expect(await topic.receive(2)).toEqual([]);
  });
});
