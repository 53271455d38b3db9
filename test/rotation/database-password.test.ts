import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { aggregateValues, captureOutput, metricValues, type CapturedOutput } from "./captured-output";
import { startDatabaseFixture, type DatabaseFixture } from "./database-fixture";

let fx: DatabaseFixture;
let output: CapturedOutput | undefined;

beforeAll(async () => {
  fx = await startDatabaseFixture();
});
afterAll(async () => {
  await fx?.close();
});
afterEach(() => {
  output?.stop();
  output = undefined;
});

const passwordOf = (secret: string): string => (JSON.parse(secret) as { password: string }).password;
const usernameOf = (secret: string): string => (JSON.parse(secret) as { username: string }).username;

describe("rotate-mongodb-password, single-user, through the Atlas Admin API (fake) on FerretDB/PostgreSQL", () => {
  it("with an API key (HTTP Digest): the new password logs in, the old one stops working", async () => {
    const handler = await fx.loadHandler({
      ROTATION_STRATEGY: "single-user",
      ATLAS_ADMIN_SECRET_ID: fx.apiKeySecretId,
    });
    const { arn, username, initial } = await fx.newDatabaseSecret("single");
    const before = await fx.service.value(arn, "AWSCURRENT");
    expect(await fx.logsIn(before)).toBe(true);
    fx.atlas.requests.length = 0;

    output = captureOutput();
    const token = await fx.service.rotate(handler, arn);
    output.stop();

    const current = await fx.service.value(arn, "AWSCURRENT");
    expect(usernameOf(current)).toBe(username);
    expect(passwordOf(current)).not.toBe(initial);
    expect(passwordOf(current)).toMatch(/^[A-Za-z0-9._-]{32}$/);
    expect(await fx.service.versionsWith(arn, "AWSCURRENT")).toEqual([token]);
    expect(await fx.logsIn(current)).toBe(true);
    // FerretDB may keep serving a pool opened with the old password: PostgreSQL itself must refuse it.
    expect(await fx.users.passwordWorks(username, initial)).toBe(false);
    expect(await fx.users.passwordWorks(username, passwordOf(current))).toBe(true);

    const patches = fx.atlas.requests.filter((request) => request.method === "PATCH");
    // The first try draws the Digest challenge (401), the second answers it.
    expect(patches).toEqual([
      {
        method: "PATCH",
        path: `/api/atlas/v2/groups/${fx.projectId}/databaseUsers/admin/${username}`,
        status: 401,
        auth: "none",
      },
      {
        method: "PATCH",
        path: `/api/atlas/v2/groups/${fx.projectId}/databaseUsers/admin/${username}`,
        status: 200,
        auth: "digest",
      },
    ]);
    expect(metricValues(output, "RotationSucceeded")).toEqual([
      { secretName: expect.stringContaining("-db-single-"), value: 1 },
    ]);
    const text = output.text();
    for (const secret of [initial, passwordOf(current)]) expect(text).not.toContain(secret);
  });

  it("with a service account (OAuth client credentials), and setSecret skips when the password is already set", async () => {
    const handler = await fx.loadHandler({ ATLAS_ADMIN_SECRET_ID: fx.serviceAccountSecretId });
    const { arn } = await fx.newDatabaseSecret("oauth");
    fx.atlas.requests.length = 0;
    const token = await fx.service.startRotation(arn);
    await fx.service.step(handler, "createSecret", arn, token);
    await fx.service.step(handler, "setSecret", arn, token);
    await fx.service.step(handler, "setSecret", arn, token);
    await fx.service.runSteps(handler, arn, token);
    expect(await fx.logsIn(await fx.service.value(arn, "AWSCURRENT"))).toBe(true);
    expect(fx.atlas.requests.filter((request) => request.method === "PATCH")).toEqual([
      expect.objectContaining({ status: 200, auth: "bearer" }),
    ]);
    expect(fx.atlas.requests[0]).toMatchObject({ method: "POST", path: "/api/oauth/token", status: 200 });
  });
});

describe("rotate-mongodb-password moves a secret to the stack's host (a switch to PrivateLink)", () => {
  it("the pending value takes MONGODB_HOST, logs in there, and only then becomes current", async () => {
    const [, port] = (process.env.TEST_FERRETDB_PG_HOSTPORT ?? "").split(":");
    const newHost = `localhost:${port}`;
    const handler = await fx.loadHandler({ MONGODB_HOST: newHost });
    try {
      const { arn } = await fx.newDatabaseSecret("rehost");
      expect(JSON.parse(await fx.service.value(arn, "AWSCURRENT")).host).not.toBe(newHost);
      await fx.service.rotate(handler, arn);
      const current = JSON.parse(await fx.service.value(arn, "AWSCURRENT")) as Record<string, string>;
      expect(current.host).toBe(newHost);
      expect(current.MONGODB_URI).toContain(`@${newHost}/`);
      expect(await fx.logsIn(JSON.stringify(current))).toBe(true);
    } finally {
      delete process.env.MONGODB_HOST;
    }
  });

  it("a host that does not answer stops the rotation; AWSCURRENT keeps the old host", async () => {
    const handler = await fx.loadHandler({ MONGODB_HOST: "127.0.0.1:9", ROTATION_LOGIN_WAIT_SECONDS: "0" });
    try {
      const { arn } = await fx.newDatabaseSecret("rehost-bad");
      const before = await fx.service.value(arn, "AWSCURRENT");
      const token = await fx.service.startRotation(arn);
      output = captureOutput();
      await fx.service.step(handler, "createSecret", arn, token);
      await expect(fx.service.step(handler, "setSecret", arn, token)).rejects.toThrow();
      output.stop();
      expect(await fx.service.value(arn, "AWSCURRENT")).toBe(before);
      expect(await fx.logsIn(before)).toBe(true);
    } finally {
      delete process.env.MONGODB_HOST;
    }
  });
});

describe("rotate-mongodb-password, alternating-users", () => {
  it("moves the secret to the other user of the pair; current and pending both log in throughout", async () => {
    const handler = await fx.loadHandler({ ROTATION_STRATEGY: "alternating-users" });
    // The pair as the stack creates it with rotationStrategy alternating-users.
    const { arn, username } = await fx.newDatabaseSecret("alt", {}, { pair: true });
    const first = await fx.service.value(arn, "AWSCURRENT");
    fx.atlas.requests.length = 0;

    const token = await fx.service.startRotation(arn);
    await fx.service.step(handler, "createSecret", arn, token);
    await fx.service.step(handler, "setSecret", arn, token);
    const pending = await fx.service.value(arn, "AWSPENDING", token);
    expect(usernameOf(pending)).toBe(`${username}_clone`);
    expect(fx.atlas.users.get(`${username}_clone`)?.roles).toEqual(fx.atlas.users.get(username)?.roles);
    expect(await fx.logsIn(first)).toBe(true);
    expect(await fx.logsIn(pending)).toBe(true);
    await fx.service.runSteps(handler, arn, token);
    expect(await fx.service.value(arn, "AWSCURRENT")).toBe(pending);
    expect(await fx.logsIn(first)).toBe(true);

    // The second rotation gives the original user a new password; the clone (now AWSPREVIOUS) keeps working.
    await fx.service.rotate(handler, arn);
    const third = await fx.service.value(arn, "AWSCURRENT");
    expect(usernameOf(third)).toBe(username);
    expect(passwordOf(third)).not.toBe(passwordOf(first));
    expect(await fx.logsIn(third)).toBe(true);
    expect(await fx.logsIn(pending)).toBe(true);
    expect(await fx.users.passwordWorks(username, passwordOf(first))).toBe(false);
    expect(await fx.users.passwordWorks(`${username}_clone`, passwordOf(pending))).toBe(true);
    // Only passwords changed: rotation never creates a user of its own.
    expect(fx.atlas.requests.filter((r) => r.method === "POST" && r.path.includes("/databaseUsers"))).toEqual(
      [],
    );
  });

  it("refuses to create the other user itself (the stack owns both), and AWSCURRENT keeps working", async () => {
    const handler = await fx.loadHandler({ ROTATION_STRATEGY: "alternating-users" });
    const { arn, username } = await fx.newDatabaseSecret("alt-missing");
    const first = await fx.service.value(arn, "AWSCURRENT");
    fx.atlas.requests.length = 0;
    const token = await fx.service.startRotation(arn);
    output = captureOutput();
    await fx.service.step(handler, "createSecret", arn, token);
    await expect(fx.service.step(handler, "setSecret", arn, token)).rejects.toThrow(
      new RegExp(`Atlas has no database user ${username}_clone .* run \`pulumi up\``),
    );
    output.stop();
    expect(fx.atlas.users.has(`${username}_clone`)).toBe(false);
    expect(fx.atlas.requests.filter((r) => r.method === "POST" && r.path.includes("/databaseUsers"))).toEqual(
      [],
    );
    expect(await fx.service.value(arn, "AWSCURRENT")).toBe(first);
    expect(await fx.logsIn(first)).toBe(true);
  });
});

describe("rotate-mongodb-password bad input", () => {
  it("a missing ATLAS_ADMIN_SECRET_ID is logged at load; each invocation records RotationSucceeded=0 and names it", async () => {
    const { arn } = await fx.newDatabaseSecret("noconfig");
    output = captureOutput();
    const handler = await fx.loadHandler({ ATLAS_ADMIN_SECRET_ID: "" });
    const token = await fx.service.startRotation(arn);
    for (const step of ["createSecret", "createSecret"] as const) {
      await expect(fx.service.step(handler, step, arn, token)).rejects.toThrow(
        "environment variable ATLAS_ADMIN_SECRET_ID is required but not set",
      );
    }
    output.stop();
    const logged = output.records().filter((record) => record.level === "ERROR");
    expect(logged.map((record) => record.message)).toEqual([
      "invalid configuration",
      "rotate-mongodb-password failed",
      "rotate-mongodb-password failed",
    ]);
    const name = expect.stringContaining("-db-noconfig-");
    expect(metricValues(output, "RotationSucceeded")).toEqual([
      { secretName: name, value: 0 },
      { secretName: name, value: 0 },
    ]);
    expect(metricValues(output, "RotationStepFailed")).toEqual([
      { secretName: name, value: 1 },
      { secretName: name, value: 1 },
    ]);
    expect(aggregateValues(output, "RotationSucceeded")).toEqual([0, 0]);
  });

  it("rotating the backup user's secret (tagged atlas-ops:restart=none) does not restart the application", async () => {
    const hook: string[] = [];
    const server = createServer((req, res) => {
      hook.push(req.url ?? "");
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const keyId = await fx.service.createPlainSecret(`rotation-${fx.run}-restart-key`, "key");
      const handler = await fx.loadHandler({
        RESTART_MODE: "webhook",
        RESTART_WEBHOOK_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/deploy`,
        RESTART_WEBHOOK_SECRET_ID: keyId,
      });
      const backupUser = await fx.newDatabaseSecret("backupuser", { "atlas-ops:restart": "none" });
      const appUser = await fx.newDatabaseSecret("appuser", { "atlas-ops:restart": "app" });
      await fx.service.rotate(handler, backupUser.arn);
      expect(await fx.logsIn(await fx.service.value(backupUser.arn, "AWSCURRENT"))).toBe(true);
      expect(hook).toEqual([]);
      await fx.service.rotate(handler, appUser.arn);
      expect(hook).toEqual(["/deploy"]);
    } finally {
      server.close();
      process.env.RESTART_MODE = "none";
    }
  });

  it("names the missing admin secret, the rejected credentials and the unknown project", async () => {
    output = captureOutput();
    const { arn } = await fx.newDatabaseSecret("bad");
    const missing = await fx.loadHandler({ ATLAS_ADMIN_SECRET_ID: `rotation-${fx.run}-absent` });
    const token = await fx.service.startRotation(arn);
    await expect(fx.service.step(missing, "createSecret", arn, token)).rejects.toThrow(
      `cannot read secret rotation-${fx.run}-absent named by ATLAS_ADMIN_SECRET_ID`,
    );

    const wrongKey = await fx.service.createPlainSecret(
      `rotation-${fx.run}-wrong-key`,
      JSON.stringify({ publicKey: "rotationpub", privateKey: "not-the-key" }),
    );
    const rejected = await fx.loadHandler({ ATLAS_ADMIN_SECRET_ID: wrongKey });
    await fx.service.step(rejected, "createSecret", arn, token);
    await expect(fx.service.step(rejected, "setSecret", arn, token)).rejects.toThrow(
      `Atlas rejected the credentials from secret ${wrongKey} (401)`,
    );

    const otherProject = await fx.loadHandler({ ATLAS_PROJECT_ID: "0123456789abcdef01234567" });
    await expect(fx.service.step(otherProject, "setSecret", arn, token)).rejects.toThrow(
      "not found in project 0123456789abcdef01234567 (404",
    );

    // A 429 is retried after a back-off, then the rotation completes.
    const handler = await fx.loadHandler({});
    fx.atlas.failNext(429, { method: "PATCH" });
    fx.atlas.requests.length = 0;
    await fx.service.runSteps(handler, arn, token);
    expect(
      fx.atlas.requests.filter((request) => request.method === "PATCH").map((request) => request.status),
    ).toEqual([401, 429, 401, 200]);

    const malformed = await fx.service.createRotatingSecret(
      `rotation-${fx.run}-db-malformed`,
      '{"username": 1}',
    );
    await expect(
      fx.service.step(handler, "createSecret", malformed, await fx.service.startRotation(malformed)),
    ).rejects.toThrow(`secret ${malformed} lacks the string field "username"`);
    output.stop();
    expect(metricValues(output, "RotationStepFailed")).toHaveLength(4);
    expect(output.text()).not.toContain(passwordOf(await fx.service.value(arn, "AWSCURRENT")));
  });
});
