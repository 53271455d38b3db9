import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBodyExpectation, probeHealth, redactUrl } from "../../../lambdas/core/probes/health";
import { selfSignedCertificate, type KeyPair } from "../../lambdas/support/certificates";
import { startServer, type TestServer } from "../../lambdas/support/http-server";

const DAY = 24 * 60 * 60 * 1000;
let dir: string;
let certificate: KeyPair;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "health-probe-"));
  certificate = selfSignedCertificate(
    dir,
    "trusted",
    new Date(Date.now() - DAY),
    new Date(Date.now() + 90 * DAY),
  );
  server = await startServer((_request, response) => {
    response.end(JSON.stringify({ status: "ok", checks: { db: "up", cache: false } }));
  }, certificate);
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("probeHealth", () => {
  it("is up over https with a trusted certificate and reports its days left", async () => {
    const result = await probeHealth({
      url: new URL(`${server.url}/health`),
      timeoutMs: 5000,
      ca: certificate.cert,
      expect: parseBodyExpectation("checks.db=up"),
    });
    expect(result.failure).toBeUndefined();
    expect(result.up).toBe(true);
    expect(result.statusCode).toBe(200);
    expect(result.tlsCertDaysLeft).toBeGreaterThan(89);
    expect(result.tlsCertDaysLeft).toBeLessThanOrEqual(90);
  });

  it("compares non-string fields by their JSON text", async () => {
    const result = await probeHealth({
      url: new URL(server.url),
      timeoutMs: 5000,
      ca: certificate.cert,
      expect: parseBodyExpectation("checks.cache=true"),
    });
    expect(result.failure).toEqual({
      kind: "body",
      message: 'body field "checks.cache" is "false", expected "true"',
    });
  });

  it("names a missing field", async () => {
    const result = await probeHealth({
      url: new URL(server.url),
      timeoutMs: 5000,
      ca: certificate.cert,
      expect: parseBodyExpectation("version=2"),
    });
    expect(result.failure).toEqual({ kind: "body", message: 'body has no field "version"' });
  });
});

describe("parseBodyExpectation and redactUrl", () => {
  it("parses field=value and rejects text without a field", () => {
    expect(parseBodyExpectation(" status = ok ")).toEqual({ field: "status", value: "ok" });
    expect(parseBodyExpectation("a=b=c")).toEqual({ field: "a", value: "b=c" });
    expect(() => parseBodyExpectation("=ok")).toThrow(/expected field=value/);
  });

  it("hides the query and the credentials of a URL", () => {
    expect(redactUrl(new URL("https://user:pw@example.com/health?token=abc"))).toBe(
      "https://***@example.com/health?***",
    );
    expect(redactUrl(new URL("https://example.com/health"))).toBe("https://example.com/health");
  });
});
