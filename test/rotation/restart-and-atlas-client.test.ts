import { createHmac, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AtlasAdminApi } from "../../lambdas/core/rotation/atlas-admin-api";
import { digestAuthorization } from "../../lambdas/core/rotation/http-digest";
import { startFakeAtlasApi, type FakeAtlasApi } from "../support/fake-atlas-api";
import { aggregateValues, captureOutput, metricValues } from "./captured-output";
import { SecretsService, type Handler } from "./secrets-service";

const INITIAL = "c2VjcmV0LXZhbHVlLXRoYXQtaXMtMzItYnl0ZXMtbG8=";
const run = randomUUID().slice(0, 8);
const hookKey = `hook-key-${randomUUID()}`;
const received: Array<{ body: string; signature: string | undefined }> = [];
let hookStatus = 200;
let hookUrl = "";
const hook = createServer((req: IncomingMessage, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    received.push({
      body: Buffer.concat(chunks).toString(),
      signature: req.headers["x-atlas-ops-signature"] as string,
    });
    res.writeHead(hookStatus).end();
  });
});
let service: SecretsService;

async function loadHandler(env: Record<string, string>): Promise<Handler> {
  vi.resetModules();
  Object.assign(process.env, env);
  // A fresh module per environment: the handler validates its environment at load, as at a cold start.
  const modulePath = "../../lambdas/rotate-app-secret/handler";
  return ((await import(modulePath)) as { handler: Handler }).handler;
}

beforeAll(async () => {
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/deploy`;
  service = new SecretsService();
});
afterAll(() => {
  hook.closeAllConnections();
  hook.close();
});

describe("restart after finishSecret", () => {
  it("calls the deploy hook with an HMAC-SHA256 signature over the body", async () => {
    const keyId = await service.createPlainSecret(`rotation-${run}-hook-key`, hookKey);
    const handler = await loadHandler({
      RESTART_MODE: "webhook",
      RESTART_WEBHOOK_URL: hookUrl,
      RESTART_WEBHOOK_SECRET_ID: keyId,
    });
    const name = `rotation-${run}-hooked`;
    const arn = await service.createRotatingSecret(name, JSON.stringify({ NEXTAUTH_SECRET: INITIAL }));
    received.length = 0;
    const token = await service.rotate(handler, arn);
    expect(received).toHaveLength(1);
    const { body, signature } = received[0]!;
    expect(signature).toBe(`sha256=${createHmac("sha256", hookKey).update(body).digest("hex")}`);
    expect(JSON.parse(body)).toMatchObject({ event: "secret-rotated", secretName: name, versionId: token });
  });

  it("a failing hook is retried, then reported, and the rotation stands", async () => {
    const keyId = await service.createPlainSecret(`rotation-${run}-hook-key-2`, hookKey);
    const handler = await loadHandler({
      RESTART_MODE: "webhook",
      RESTART_WEBHOOK_URL: hookUrl,
      RESTART_WEBHOOK_SECRET_ID: keyId,
    });
    const arn = await service.createRotatingSecret(
      `rotation-${run}-hook-down`,
      JSON.stringify({ NEXTAUTH_SECRET: INITIAL }),
    );
    hookStatus = 503;
    received.length = 0;
    const output = captureOutput();
    try {
      const token = await service.rotate(handler, arn);
      expect(await service.versionsWith(arn, "AWSCURRENT")).toEqual([token]);
    } finally {
      output.stop();
      hookStatus = 200;
    }
    expect(received).toHaveLength(3);
    expect(output.text()).toContain("application restart failed; the rotation stands");
    expect(output.text()).toContain("failed after 3 attempts: HTTP 503");
    expect(metricValues(output, "RotationStepFailed")).toHaveLength(1);
    expect(output.text()).not.toContain(hookKey);
  });

  it("refuses a plain-http hook that is not loopback: logged at load, then each invocation fails naming it", async () => {
    const arn = await service.createRotatingSecret(
      `rotation-${run}-bad-hook`,
      JSON.stringify({ NEXTAUTH_SECRET: INITIAL }),
    );
    const output = captureOutput();
    try {
      const handler = await loadHandler({
        RESTART_MODE: "webhook",
        RESTART_WEBHOOK_URL: "http://deploy.example.com/x",
        RESTART_WEBHOOK_SECRET_ID: "k",
      });
      const token = await service.startRotation(arn);
      await expect(service.step(handler, "createSecret", arn, token)).rejects.toThrow(
        "RESTART_WEBHOOK_URL must be an https:// URL",
      );
      const ecs = await loadHandler({
        RESTART_MODE: "ecs",
        RESTART_ECS_CLUSTER: "",
        RESTART_ECS_SERVICES: "",
      });
      await expect(service.step(ecs, "createSecret", arn, token)).rejects.toThrow(
        "RESTART_ECS_SERVICES is required when RESTART_MODE=ecs",
      );
    } finally {
      output.stop();
      process.env.RESTART_MODE = "none";
    }
    const invalid = output.records().filter((record) => record.message === "invalid configuration");
    expect(invalid.map((record) => (record.error as { message: string }).message)).toEqual([
      "environment variable RESTART_WEBHOOK_URL must be an https:// URL",
      "environment variable RESTART_ECS_SERVICES is required when RESTART_MODE=ecs",
    ]);
    expect(metricValues(output, "RotationSucceeded")).toEqual([
      { secretName: `rotation-${run}-bad-hook`, value: 0 },
      { secretName: `rotation-${run}-bad-hook`, value: 0 },
    ]);
    expect(aggregateValues(output, "RotationSucceeded")).toEqual([0, 0]);
    // Nothing was stored: the pending version still has no value.
    expect(await service.versionsWith(arn, "AWSCURRENT")).toHaveLength(1);
  });

  it("restarts only for secrets the application uses (tag atlas-ops:restart), and refuses an unknown tag", async () => {
    const keyId = await service.createPlainSecret(`rotation-${run}-hook-key-3`, hookKey);
    const handler = await loadHandler({
      RESTART_MODE: "webhook",
      RESTART_WEBHOOK_URL: hookUrl,
      RESTART_WEBHOOK_SECRET_ID: keyId,
    });
    const value = JSON.stringify({ NEXTAUTH_SECRET: INITIAL });
    const jobsOnly = await service.createRotatingSecret(`rotation-${run}-jobs-only`, value, {
      "atlas-ops:restart": "none",
    });
    const used = await service.createRotatingSecret(`rotation-${run}-used-by-app`, value, {
      "atlas-ops:restart": "app",
    });
    const typo = await service.createRotatingSecret(`rotation-${run}-typo`, value, {
      "atlas-ops:restart": "ecs",
    });
    received.length = 0;
    const output = captureOutput();
    try {
      const skipped = await service.rotate(handler, jobsOnly);
      expect(await service.versionsWith(jobsOnly, "AWSCURRENT")).toEqual([skipped]);
      expect(received).toHaveLength(0);
      await service.rotate(handler, used);
      expect(received.map(({ body }) => (JSON.parse(body) as { secretName: string }).secretName)).toEqual([
        `rotation-${run}-used-by-app`,
      ]);
      await expect(
        service.step(handler, "createSecret", typo, await service.startRotation(typo)),
      ).rejects.toThrow(`secret ${typo} has tag atlas-ops:restart="ecs"; expected "app" or "none"`);
    } finally {
      output.stop();
    }
    expect(output.text()).toContain("no application restart: the secret is tagged atlas-ops:restart=none");
  });
});

describe("Atlas Admin API client", () => {
  let atlas: FakeAtlasApi;
  const projectId = "5f0000000000000000000001";
  const apiKey = { publicKey: "pub", privateKey: randomUUID() };
  beforeAll(async () => {
    const noBackend = { setPassword: async () => {}, createUser: async () => {} };
    atlas = await startFakeAtlasApi({ projectId, backend: noBackend, apiKey });
    atlas.addUser({
      username: "app",
      databaseName: "admin",
      roles: [{ roleName: "readWrite", databaseName: "opendev" }],
    });
  });
  afterAll(() => atlas.close());
  const client = (attempts = 3) =>
    new AtlasAdminApi({
      baseUrl: atlas.url,
      projectId,
      credentials: { kind: "api-key", ...apiKey },
      credentialsSource: "secret admin",
      attempts,
      baseDelayMs: 10,
    });

  it("computes the RFC 7616 section 3.9.1 MD5 example response", () => {
    const header = digestAuthorization(
      {
        realm: "http-auth@example.org",
        nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        qop: "auth, auth-int",
        opaque: "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
        algorithm: "MD5",
      },
      {
        method: "GET",
        uri: "/dir/index.html",
        username: "Mufasa",
        password: "Circle of Life",
        cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        nonceCount: 1,
      },
    );
    expect(header).toContain('response="8ca523f5e9506fed4657c9700eebdbec"');
  });

  it("retries 429 and 5xx with back-off, then gives up naming the call", async () => {
    atlas.failNext(429, { times: 2 });
    expect(await client().getDatabaseUser("app")).toMatchObject({ username: "app" });
    atlas.failNext(500, { times: 3 });
    await expect(client(3).updateDatabaseUserPassword("app", "a-new-password")).rejects.toThrow(
      `Atlas Admin API PATCH /api/atlas/v2/groups/${projectId}/databaseUsers/admin/app: HTTP 500 after 3 attempt(s)`,
    );
    expect(await client().getDatabaseUser("nobody")).toBeUndefined();
    await expect(client().updateDatabaseUserPassword("nobody", "a-new-password")).rejects.toThrow("(404;");
  });
});
