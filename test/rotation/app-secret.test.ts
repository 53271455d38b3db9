import { randomUUID } from "node:crypto";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { checkAppSecretValue, parseAppSecret } from "../../lambdas/core/rotation/app-secret";
import { captureOutput, metricValues, type CapturedOutput } from "./captured-output";
import { SecretsService, type Handler } from "./secrets-service";

const INITIAL = "c2VjcmV0LXZhbHVlLXRoYXQtaXMtMzItYnl0ZXMtbG8="; // 32 bytes, base64
const run = randomUUID().slice(0, 8);
let serial = 0;
const secretName = (label: string): string => `rotation-app-${run}-${label}-${++serial}`;

let service: SecretsService;
let handler: Handler;
let output: CapturedOutput | undefined;

async function loadHandler(env: Record<string, string> = {}): Promise<Handler> {
  vi.resetModules();
  Object.assign(process.env, { RESTART_MODE: "none", APP_NAME: "opendev", ...env });
  // A fresh module per environment: the handler validates its environment at load, as at a cold start.
  const modulePath = "../../lambdas/rotate-app-secret/handler";
  return ((await import(modulePath)) as { handler: Handler }).handler;
}

beforeAll(async () => {
  service = new SecretsService();
  handler = await loadHandler();
});

afterEach(() => {
  output?.stop();
  output = undefined;
});

describe("rotate-app-secret against Secrets Manager (moto)", () => {
  it("rotates to a fresh 32-byte value, keeps the old one as _PREVIOUS and moves AWSCURRENT", async () => {
    const name = secretName("happy");
    const arn = await service.createRotatingSecret(name, JSON.stringify({ NEXTAUTH_SECRET: INITIAL }));
    const oldVersion = (await service.versionsWith(arn, "AWSCURRENT"))[0];
    output = captureOutput();
    const token = await service.rotate(handler, arn);
    output.stop();

    const current = JSON.parse(await service.value(arn, "AWSCURRENT")) as Record<string, string>;
    expect(Object.keys(current).sort()).toEqual(["NEXTAUTH_SECRET", "NEXTAUTH_SECRET_PREVIOUS"]);
    expect(current.NEXTAUTH_SECRET_PREVIOUS).toBe(INITIAL);
    expect(Buffer.from(current.NEXTAUTH_SECRET!, "base64")).toHaveLength(32);
    expect(await service.versionsWith(arn, "AWSCURRENT")).toEqual([token]);
    expect(await service.versionsWith(arn, "AWSPREVIOUS")).toEqual([oldVersion]);

    // A second rotation drops the oldest value: only current and previous are ever accepted.
    await service.rotate(handler, arn);
    const next = JSON.parse(await service.value(arn, "AWSCURRENT")) as Record<string, string>;
    expect(next.NEXTAUTH_SECRET_PREVIOUS).toBe(current.NEXTAUTH_SECRET);
    expect(Object.values(next)).not.toContain(INITIAL);

    expect(metricValues(output, "RotationSucceeded")).toEqual([{ secretName: name, value: 1 }]);
    const text = output.text();
    for (const value of [INITIAL, current.NEXTAUTH_SECRET!]) expect(text).not.toContain(value);
  });

  it("keeps any key name (JWT_SECRET) and reuses a pending value instead of overwriting it", async () => {
    const arn = await service.createRotatingSecret(
      secretName("jwt"),
      JSON.stringify({ JWT_SECRET: INITIAL }),
    );
    const token = await service.startRotation(arn);
    await service.step(handler, "createSecret", arn, token);
    const pending = await service.value(arn, "AWSPENDING", token);
    await service.step(handler, "createSecret", arn, token);
    expect(await service.value(arn, "AWSPENDING", token)).toBe(pending);
    await service.runSteps(handler, arn, token);
    expect(await service.value(arn, "AWSCURRENT")).toBe(pending);
    expect(Object.keys(JSON.parse(pending) as object).sort()).toEqual(["JWT_SECRET", "JWT_SECRET_PREVIOUS"]);
    // finishSecret again after it succeeded: the version is already current, nothing changes.
    await service.step(handler, "finishSecret", arn, token);
    expect(await service.versionsWith(arn, "AWSCURRENT")).toEqual([token]);
  });

  it("survives a crash after every step: a retry of the whole rotation completes with one AWSCURRENT", async () => {
    const steps = ["createSecret", "setSecret", "testSecret", "finishSecret"] as const;
    for (const crashAfter of steps) {
      const arn = await service.createRotatingSecret(
        secretName(`crash-${crashAfter}`),
        JSON.stringify({ NEXTAUTH_SECRET: INITIAL }),
      );
      const token = await service.startRotation(arn);
      for (const step of steps) {
        await service.step(handler, step, arn, token);
        if (step === crashAfter) break;
      }
      expect(await service.versionsWith(arn, "AWSCURRENT")).toHaveLength(1);
      await service.runSteps(handler, arn, token);
      expect(await service.versionsWith(arn, "AWSCURRENT")).toEqual([token]);
      const current = JSON.parse(await service.value(arn, "AWSCURRENT")) as Record<string, string>;
      expect(current.NEXTAUTH_SECRET_PREVIOUS).toBe(INITIAL);
    }
  });

  it("refuses rotation that is disabled, an unknown token, a token not AWSPENDING, and malformed JSON", async () => {
    output = captureOutput();
    const plain = await service.createPlainSecret(
      secretName("disabled"),
      JSON.stringify({ NEXTAUTH_SECRET: INITIAL }),
    );
    await expect(service.step(handler, "createSecret", plain, randomUUID())).rejects.toThrow(
      `secret ${plain} does not have rotation enabled`,
    );

    const arn = await service.createRotatingSecret(
      secretName("tokens"),
      JSON.stringify({ NEXTAUTH_SECRET: INITIAL }),
    );
    const unknown = randomUUID();
    await expect(service.step(handler, "createSecret", arn, unknown)).rejects.toThrow(
      `version ${unknown} is not a version of secret ${arn}`,
    );
    const token = await service.rotate(handler, arn);
    const previous = (await service.versionsWith(arn, "AWSPREVIOUS"))[0]!;
    await expect(service.step(handler, "setSecret", arn, previous)).rejects.toThrow(
      `version ${previous} of secret ${arn} is not labelled AWSPENDING`,
    );
    // The current version: nothing to do, no error (AWS may re-send a step after finishing).
    await service.step(handler, "createSecret", arn, token);

    const malformed = await service.createRotatingSecret(secretName("malformed"), "not json {");
    const badToken = await service.startRotation(malformed);
    await expect(service.step(handler, "createSecret", malformed, badToken)).rejects.toThrow(
      `secret ${malformed} is not valid JSON`,
    );
    const twoKeys = await service.createRotatingSecret(
      secretName("two-keys"),
      JSON.stringify({ A: INITIAL, B: INITIAL }),
    );
    await expect(
      service.step(handler, "createSecret", twoKeys, await service.startRotation(twoKeys)),
    ).rejects.toThrow("must hold exactly one key besides *_PREVIOUS, found 2 (A, B)");
    await expect(handler({ Step: "rotate", SecretId: arn, ClientRequestToken: token })).rejects.toThrow(
      'has unknown Step "rotate"',
    );
    output.stop();
    expect(metricValues(output, "RotationStepFailed").length).toBe(6);
    expect(output.text()).not.toContain(INITIAL);
  });
});

describe("app secret value checks", () => {
  it("rejects values that are not 32 fresh random bytes", () => {
    const fresh = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7)).toString("base64");
    expect(() => checkAppSecretValue(fresh, undefined, "v")).not.toThrow();
    expect(() => checkAppSecretValue(Buffer.alloc(32, 65).toString("base64"), undefined, "v")).toThrow(
      "too few distinct bytes",
    );
    expect(() => checkAppSecretValue(Buffer.alloc(16, 1).toString("base64"), undefined, "v")).toThrow(
      "decodes to 16 bytes, expected 32",
    );
    expect(() => checkAppSecretValue("not base64!", undefined, "v")).toThrow("not canonical base64");
    expect(() => checkAppSecretValue(fresh, fresh, "v")).toThrow("equals the value it replaces");
    expect(parseAppSecret(JSON.stringify({ X: "a", X_PREVIOUS: "b" }), "s")).toEqual({
      key: "X",
      value: "a",
      previous: "b",
    });
  });
});
