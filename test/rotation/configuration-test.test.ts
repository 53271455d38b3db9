import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { captureOutput } from "./captured-output";
import { startDatabaseFixture, type DatabaseFixture } from "./database-fixture";
import type { Handler, SecretsService } from "./secrets-service";

/**
 * `pulumi up` turns rotation on with rotateImmediately=false, so Secrets Manager tests the configuration right
 * away: a short-lived AWSPENDING version, only testSecret, then the version is removed. Both rotators must pass
 * that test (or the security contacts get mail right after every deploy), and such a version must never
 * become current.
 */
const INITIAL = "c2VjcmV0LXZhbHVlLXRoYXQtaXMtMzItYnl0ZXMtbG8="; // 32 bytes, base64
const run = randomUUID().slice(0, 8);
let fx: DatabaseFixture;
let appHandler: Handler;
let service: SecretsService;

beforeAll(async () => {
  fx = await startDatabaseFixture();
  service = fx.service;
  vi.resetModules();
  Object.assign(process.env, { RESTART_MODE: "none", APP_NAME: "opendev" });
  const modulePath = "../../lambdas/rotate-app-secret/handler";
  appHandler = ((await import(modulePath)) as { handler: Handler }).handler;
});
afterAll(async () => {
  await fx?.close();
});

describe("Secrets Manager's test of a new rotation configuration", () => {
  it.each(["copy", "empty"] as const)(
    "rotate-app-secret passes it (pending version: %s) and changes nothing",
    async (shape) => {
      const arn = await service.createRotatingSecret(
        `rotation-config-${run}-app-${shape}`,
        JSON.stringify({ NEXTAUTH_SECRET: INITIAL }),
      );
      const current = await service.versionsWith(arn, "AWSCURRENT");
      const output = captureOutput();
      const { error } = await service.configurationTest(appHandler, arn, shape);
      output.stop();
      expect(error).toBeUndefined();
      expect(await service.value(arn, "AWSCURRENT")).toBe(JSON.stringify({ NEXTAUTH_SECRET: INITIAL }));
      expect(await service.versionsWith(arn, "AWSCURRENT")).toEqual(current);
      expect(output.text()).toContain("configuration-tested");
    },
  );

  it("rotate-app-secret still fails the test when the current value is unusable", async () => {
    const arn = await service.createRotatingSecret(`rotation-config-${run}-app-bad`, '{"A":"x","B":"y"}');
    const output = captureOutput();
    const { error } = await service.configurationTest(appHandler, arn, "copy");
    output.stop();
    expect(String(error)).toContain("must hold exactly one key");
  });

  it.each(["copy", "empty"] as const)(
    "rotate-mongodb-password passes it (pending version: %s): the current login works and Atlas knows the user",
    async (shape) => {
      const handler = await fx.loadHandler({ ATLAS_ADMIN_SECRET_ID: fx.serviceAccountSecretId });
      const { arn, username, initial } = await fx.newDatabaseSecret(`config-${shape}`);
      const before = await service.value(arn, "AWSCURRENT");
      fx.atlas.requests.length = 0;
      const output = captureOutput();
      const { error } = await service.configurationTest(handler, arn, shape);
      output.stop();
      expect(error).toBeUndefined();
      expect(await service.value(arn, "AWSCURRENT")).toBe(before);
      expect(await fx.users.passwordWorks(username, initial)).toBe(true);
      // Read only: the test asked Atlas about the user and changed nothing.
      expect(fx.atlas.requests.filter((r) => r.method !== "GET" && r.method !== "POST")).toEqual([]);
      expect(fx.atlas.requests.some((r) => r.method === "GET" && r.path.endsWith(`/${username}`))).toBe(true);
      expect(output.text()).not.toContain(initial);
    },
  );

  it("rotate-mongodb-password fails the test when the current credentials do not log in", async () => {
    const handler = await fx.loadHandler({
      ATLAS_ADMIN_SECRET_ID: fx.serviceAccountSecretId,
      ROTATION_LOGIN_WAIT_SECONDS: "0",
    });
    const { arn, username } = await fx.newDatabaseSecret("config-broken");
    await fx.users.setPassword(username, `Changed-${randomUUID()}`);
    const output = captureOutput();
    const { error } = await service.configurationTest(handler, arn, "empty");
    output.stop();
    expect(String(error)).toMatch(/current credentials of secret .* do not work/);
  });

  it.each([
    ["empty", /has no value: createSecret never ran/],
    ["copy", /holds the current value, not a new one/],
  ] as const)(
    "never promotes a %s configuration-test version, even if finishSecret is sent",
    async (shape, why) => {
      const arn = await service.createRotatingSecret(
        `rotation-config-${run}-finish-${shape}`,
        JSON.stringify({ NEXTAUTH_SECRET: INITIAL }),
      );
      const token = await service.configurationTestVersion(arn, shape);
      const output = captureOutput();
      await expect(service.step(appHandler, "finishSecret", arn, token)).rejects.toThrow(why);
      output.stop();
      expect(await service.versionsWith(arn, "AWSCURRENT")).not.toContain(token);
      expect(await service.value(arn, "AWSCURRENT")).toBe(JSON.stringify({ NEXTAUTH_SECRET: INITIAL }));
    },
  );
});
