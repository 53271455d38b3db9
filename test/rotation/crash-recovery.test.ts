import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretsManagerRotationStore } from "../../lambdas/adapters/secret-rotation";
import { AtlasAdminApi } from "../../lambdas/core/rotation/atlas-admin-api";
import {
  databasePasswordRotation,
  PASSWORD_EXCLUDED_CHARACTERS,
  type RotationStrategyName,
} from "../../lambdas/core/rotation/database-password";
import { handleRotationEvent, type RotationJob } from "../../lambdas/core/rotation/rotation-job";
import type { RotatingSecretStore } from "../../lambdas/core/rotation/rotation-steps";
import { startDatabaseFixture, type DatabaseFixture } from "./database-fixture";

/**
 * A Lambda can die at any instruction. Each case crashes once just before or just after one side effect
 * (storing the pending value, changing the Atlas user, moving AWSCURRENT), then the service retries the whole
 * rotation with the same token. The secret must end with one AWSCURRENT that logs in.
 */
type CrashPoint = "put" | "move" | "atlas";
const cases: Array<[CrashPoint, "before" | "after"]> = [
  ["put", "before"],
  ["put", "after"],
  ["atlas", "before"],
  ["atlas", "after"],
  ["move", "before"],
  ["move", "after"],
];

let fx: DatabaseFixture;
beforeAll(async () => {
  fx = await startDatabaseFixture();
});
afterAll(async () => {
  await fx?.close();
});

/** The real store, except that the chosen write throws once, before or after reaching Secrets Manager. */
function crashingStore(
  store: SecretsManagerRotationStore,
  point: CrashPoint,
  when: "before" | "after",
): RotatingSecretStore {
  let armed = point !== "atlas";
  const crashOnce = async <T>(write: () => Promise<T>): Promise<T> => {
    if (!armed) return write();
    armed = false;
    if (when === "before") throw new Error("crash before write");
    await write();
    throw new Error("crash after write");
  };
  return {
    describe: (id) => store.describe(id),
    getValue: (id, stage, version) => store.getValue(id, stage, version),
    findPendingValue: (id, version) => store.findPendingValue(id, version),
    putPendingValue: (id, version, value) =>
      point === "put"
        ? crashOnce(() => store.putPendingValue(id, version, value))
        : store.putPendingValue(id, version, value),
    moveCurrent: (id, to, from) =>
      point === "move" ? crashOnce(() => store.moveCurrent(id, to, from)) : store.moveCurrent(id, to, from),
  };
}

function job(
  store: RotatingSecretStore,
  real: SecretsManagerRotationStore,
  strategy: RotationStrategyName,
): RotationJob {
  const atlas = new AtlasAdminApi({
    baseUrl: fx.atlas.url,
    projectId: fx.projectId,
    credentials: { kind: "api-key", ...fx.atlasApiKey },
    credentialsSource: "test",
    attempts: 1,
  });
  return {
    store,
    strategy: async () =>
      databasePasswordRotation({
        strategy,
        atlas,
        newPassword: () => real.randomPassword(32, PASSWORD_EXCLUDED_CHARACTERS),
        loginWaitMs: 0,
      }),
    restart: async () => {},
    reporter: { stepDone() {}, rotationSucceeded() {}, restartSkipped() {}, restartFailed() {} },
  };
}

describe.each(["single-user", "alternating-users"] as const)("crash and retry, %s", (strategy) => {
  it.each(cases)("crash %s: %s", async (point, when) => {
    const { arn } = await fx.newDatabaseSecret(
      `crash_${point}_${when}`,
      {},
      {
        pair: strategy === "alternating-users",
      },
    );
    const real = new SecretsManagerRotationStore();
    const crashing = job(crashingStore(real, point, when), real, strategy);
    const healthy = job(real, real, strategy);
    if (point === "atlas")
      fx.atlas.failNext(500, {
        afterApplying: when === "after",
        // Both strategies change a password; neither creates a user (the stack owns the pair).
        method: "PATCH",
      });

    const token = await fx.service.startRotation(arn);
    let crashed = false;
    for (const Step of ["createSecret", "setSecret", "testSecret", "finishSecret"] as const) {
      try {
        await handleRotationEvent({ Step, SecretId: arn, ClientRequestToken: token }, crashing);
      } catch {
        crashed = true;
        break;
      }
    }
    expect(crashed).toBe(true);
    expect(await fx.service.versionsWith(arn, "AWSCURRENT")).toHaveLength(1);
    if (strategy === "alternating-users") {
      // Zero downtime: whatever the crash, the current credentials keep working.
      expect(await fx.logsIn(await fx.service.value(arn, "AWSCURRENT"))).toBe(true);
    }

    for (const Step of ["createSecret", "setSecret", "testSecret", "finishSecret"] as const) {
      await handleRotationEvent({ Step, SecretId: arn, ClientRequestToken: token }, healthy);
    }
    await fx.service.clearPending(arn, token);
    expect(await fx.service.versionsWith(arn, "AWSCURRENT")).toEqual([token]);
    expect(await fx.logsIn(await fx.service.value(arn, "AWSCURRENT"))).toBe(true);
  });
});
