import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfSignedCertificate, type KeyPair } from "./support/certificates";
import { startServer, type TestServer } from "./support/http-server";
import { coldStart, invoke, metricValue, type Env } from "./support/invoke";

const DAY = 24 * 60 * 60 * 1000;

let dir: string;
let selfSigned: KeyPair;
let expired: KeyPair;
const servers: TestServer[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "health-check-"));
  selfSigned = selfSignedCertificate(
    dir,
    "self-signed",
    new Date(Date.now() - DAY),
    new Date(Date.now() + 30 * DAY),
  );
  expired = selfSignedCertificate(
    dir,
    "expired",
    new Date(Date.now() - 400 * DAY),
    new Date(Date.now() - 35 * DAY),
  );
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function serve(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const server = await startServer(...args);
  servers.push(server);
  return server;
}

async function check(env: Env) {
  const handler = await coldStart("lambdas/health-check/handler", {
    APP_NAME: "shop",
    HEALTH_CHECK_EXPECT: undefined,
    ...env,
  });
  return invoke(handler, { source: "aws.scheduler" }, "shop-health-check");
}

describe("health-check handler", () => {
  it("reports up with latency when the endpoint answers 2xx with the expected body", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ status: "ok", db: "up" }));
    });
    const run = await check({
      HEALTH_CHECK_URL: `${server.url}/api/health`,
      HEALTH_CHECK_EXPECT: "status=ok",
    });

    expect(run.error).toBeUndefined();
    expect(metricValue(run, "HealthCheckUp")).toBe(1);
    expect(metricValue(run, "HealthCheckLatencyMs")).toBeGreaterThanOrEqual(0);
    const up = run.metrics.find((metric) => metric.name === "HealthCheckUp")!;
    expect(up.namespace).toBe("AtlasOps");
    expect(up.dimensions).toEqual({ service: "atlas-ops", App: "shop", Job: "health-check" });
    expect(server.requests.map((request) => `${request.method} ${request.url}`)).toEqual(["GET /api/health"]);
    expect(
      run.logs.some((log) => log.message === "healthy" && log.function_name === "shop-health-check"),
    ).toBe(true);
  });

  it("fails naming the status when the endpoint answers 500", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(500);
      response.end("internal error");
    });
    const run = await check({ HEALTH_CHECK_URL: server.url });

    expect(run.error?.message).toMatch(/failed \(status\): HTTP status 500/);
    expect(metricValue(run, "HealthCheckUp")).toBe(0);
    expect(run.logs.some((log) => log.level === "ERROR" && /HTTP status 500/.test(JSON.stringify(log)))).toBe(
      true,
    );
  });

  it("fails on a body that does not match, naming the field and both values", async () => {
    const server = await serve((_request, response) => response.end(JSON.stringify({ status: "degraded" })));
    const run = await check({ HEALTH_CHECK_URL: server.url, HEALTH_CHECK_EXPECT: "status=ok" });

    expect(run.error?.message).toMatch(/\(body\): body field "status" is "degraded", expected "ok"/);
    expect(metricValue(run, "HealthCheckUp")).toBe(0);
  });

  it("fails on a body that is not JSON when a field is expected", async () => {
    const server = await serve((_request, response) => response.end("<html>ok</html>"));
    const run = await check({ HEALTH_CHECK_URL: server.url, HEALTH_CHECK_EXPECT: "status=ok" });
    expect(run.error?.message).toMatch(/\(body\): body is not JSON/);
  });

  it("fails with a timeout when the endpoint does not answer in time", async () => {
    const server = await serve(() => undefined);
    const run = await check({ HEALTH_CHECK_URL: server.url, HEALTH_CHECK_TIMEOUT_MS: "300" });

    expect(run.error?.message).toMatch(/\(timeout\): no complete answer within 300 ms/);
    expect(metricValue(run, "HealthCheckUp")).toBe(0);
  });

  it("stays up but reports the latency of a slow answer", async () => {
    const server = await serve((_request, response) => {
      setTimeout(() => response.end(JSON.stringify({ status: "ok" })), 400);
    });
    const run = await check({ HEALTH_CHECK_URL: server.url, HEALTH_CHECK_TIMEOUT_MS: "5000" });

    expect(metricValue(run, "HealthCheckUp")).toBe(1);
    expect(metricValue(run, "HealthCheckLatencyMs")).toBeGreaterThanOrEqual(400);
  });

  it("fails on connection refused", async () => {
    const server = await serve(() => undefined);
    await server.close();
    const run = await check({ HEALTH_CHECK_URL: server.url });
    expect(run.error?.message).toMatch(/\(connect\): connection failed: .*ECONNREFUSED/);
  });

  it("fails on a name that does not resolve", async () => {
    const run = await check({ HEALTH_CHECK_URL: "http://opendev-health.invalid/api/health" });
    expect(run.error?.message).toMatch(/\(dns\): DNS lookup failed/);
    expect(metricValue(run, "HealthCheckUp")).toBe(0);
  });

  it("fails on a self-signed certificate and still reports its days left", async () => {
    const server = await serve((_request, response) => response.end("ok"), selfSigned);
    const run = await check({ HEALTH_CHECK_URL: server.url });

    expect(run.error?.message).toMatch(/\(tls\): TLS failed: self[- ]signed certificate/);
    expect(metricValue(run, "HealthCheckUp")).toBe(0);
    const daysLeft = metricValue(run, "TlsCertDaysLeft");
    expect(daysLeft).toBeGreaterThan(29);
    expect(daysLeft).toBeLessThanOrEqual(30);
    // Nothing was requested over the untrusted connection.
    expect(server.requests).toEqual([]);
  });

  it("fails on an expired certificate and reports negative days left", async () => {
    const server = await serve((_request, response) => response.end("ok"), expired);
    const run = await check({ HEALTH_CHECK_URL: server.url });

    expect(run.error?.message).toMatch(/\(tls\): TLS failed: .*(expired|self[- ]signed)/);
    const daysLeft = metricValue(run, "TlsCertDaysLeft");
    expect(daysLeft).toBeLessThan(-34);
    expect(daysLeft).toBeGreaterThan(-36);
  });

  it("never shows a token carried in the URL", async () => {
    const server = await serve((_request, response) => {
      response.writeHead(503);
      response.end();
    });
    const run = await check({ HEALTH_CHECK_URL: `${server.url}/health?token=s3cr3t-token` });

    expect(run.error?.message).toMatch(/HTTP status 503/);
    expect(run.error?.message).not.toContain("s3cr3t-token");
    expect(run.lines.join("\n")).not.toContain("s3cr3t-token");
  });

  it("rejects a missing or invalid configuration naming the variable, and records the failure", async () => {
    const missing = await check({ HEALTH_CHECK_URL: undefined });
    expect(missing.error?.message).toBe("environment variable HEALTH_CHECK_URL is required but not set");
    expect(metricValue(missing, "HealthCheckUp")).toBe(0);

    const badTimeout = await check({
      HEALTH_CHECK_URL: "https://example.com",
      HEALTH_CHECK_TIMEOUT_MS: "soon",
    });
    expect(badTimeout.error?.message).toMatch(/HEALTH_CHECK_TIMEOUT_MS must be a whole number/);

    const badExpect = await check({ HEALTH_CHECK_URL: "https://example.com", HEALTH_CHECK_EXPECT: "ok" });
    expect(badExpect.error?.message).toMatch(/HEALTH_CHECK_EXPECT expected field=value/);

    const badUrl = await check({ HEALTH_CHECK_URL: "ftp://example.com" });
    expect(badUrl.error?.message).toMatch(/HEALTH_CHECK_URL must be an http:\/\/ or https:\/\/ URL/);
  });

  it("reports a failure to Sentry when SENTRY_DSN is set", async () => {
    const sentry = await serve((_request, response) => response.end("{}"));
    const app = await serve((_request, response) => {
      response.writeHead(502);
      response.end();
    });
    const dsn = `${sentry.url.replace("://", "://publickey123@")}/42`;
    const run = await check({ HEALTH_CHECK_URL: app.url, SENTRY_DSN: dsn });

    expect(run.error?.message).toMatch(/HTTP status 502/);
    expect(sentry.requests).toHaveLength(1);
    const [request] = sentry.requests;
    expect(request!.url).toBe("/api/42/envelope/");
    expect(request!.headers["x-sentry-auth"]).toMatch(/sentry_key=publickey123/);
    const [, itemHeader, event] = request!.body
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(itemHeader).toEqual({ type: "event" });
    expect(JSON.stringify(event)).toMatch(/HTTP status 502/);
    expect(event!.tags).toEqual({ job: "health-check", app: "shop" });
  });
});
