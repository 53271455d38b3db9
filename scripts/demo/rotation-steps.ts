import { MongoClient } from "mongodb";
import { parseDatabaseCredentials } from "../../lambdas/core/mongo/credentials";
import { credentialsLogIn } from "../../lambdas/core/rotation/database-password";
import { ROTATION_STEPS } from "../../lambdas/core/rotation/rotation-steps";
import { commonEnv, type DrillContext } from "./context";
import { LocalLambda } from "./lambda";
import { check, count } from "./steps";

/**
 * Both rotations as Secrets Manager drives them: RotateSecret creates the AWSPENDING version, then the
 * function is invoked four times (createSecret, setSecret, testSecret, finishSecret). moto cannot invoke a
 * function (it would need Docker), so the drill invokes the real handler with the service's events and, after
 * finishSecret, clears AWSPENDING as the service does (test/rotation/secrets-service.ts).
 */
async function rotate(context: DrillContext, lambda: LocalLambda, secretId: string): Promise<string> {
  const { service } = context.resources;
  const token = await service.startRotation(secretId);
  for (const Step of ROTATION_STEPS) {
    await lambda.succeed({ Step, SecretId: secretId, ClientRequestToken: token });
  }
  await service.clearPending(secretId, token);
  const current = await service.versionsWith(secretId, "AWSCURRENT");
  check(
    current.length === 1 && current[0] === token,
    `after finishSecret AWSCURRENT is on [${current.join(", ")}], not on the new version ${token}`,
  );
  return token;
}

export async function runAppSecretRotation(context: DrillContext): Promise<void> {
  const { resources } = context;
  const lambda = await LocalLambda.load(
    "rotate-app-secret",
    { ...commonEnv(context), RESTART_MODE: "none" },
    context.logFile,
  );
  await context.steps.run("NEXTAUTH_SECRET rotation", async () => {
    const secretId = resources.secrets.nextAuth;
    const before = JSON.parse(await resources.service.value(secretId, "AWSCURRENT")) as Record<
      string,
      string
    >;
    const token = await rotate(context, lambda, secretId);
    const after = JSON.parse(await resources.service.value(secretId, "AWSCURRENT")) as Record<string, string>;
    check(
      !!after.NEXTAUTH_SECRET && after.NEXTAUTH_SECRET !== before.NEXTAUTH_SECRET,
      "NEXTAUTH_SECRET did not change",
    );
    check(
      Buffer.from(after.NEXTAUTH_SECRET, "base64").length === 32,
      "the new NEXTAUTH_SECRET is not 32 bytes",
    );
    check(
      after.NEXTAUTH_SECRET_PREVIOUS === before.NEXTAUTH_SECRET,
      "the old value was not kept as NEXTAUTH_SECRET_PREVIOUS (sessions signed with it would be logged out)",
    );
    return [
      `${ROTATION_STEPS.join(", ")} done; AWSCURRENT is the new version ${token.slice(0, 8)}…`,
      "new value: 32 random bytes; the old one kept as NEXTAUTH_SECRET_PREVIOUS so signed-in users stay signed in",
    ];
  });
}

export async function runDatabasePasswordRotation(context: DrillContext): Promise<void> {
  const { resources } = context;
  const lambda = await LocalLambda.load(
    "rotate-mongodb-password",
    {
      ...commonEnv(context),
      ROTATION_STRATEGY: "alternating-users",
      ATLAS_ADMIN_SECRET_ID: resources.secrets.atlasAdmin,
      ATLAS_PROJECT_ID: resources.atlasProjectId,
      ATLAS_API_BASE_URL: resources.atlas.url,
      ROTATION_LOGIN_WAIT_SECONDS: "30",
      RESTART_MODE: "none",
    },
    context.logFile,
  );
  await context.steps.run("database password rotation (alternating users)", async () => {
    const secretId = resources.secrets.app;
    const before = parseDatabaseCredentials(await resources.service.value(secretId, "AWSCURRENT"), secretId);
    resources.atlas.requests.length = 0;
    await rotate(context, lambda, secretId);
    const after = parseDatabaseCredentials(await resources.service.value(secretId, "AWSCURRENT"), secretId);
    check(
      after.username === `${before.username}_clone`,
      `AWSCURRENT is user ${after.username}, expected the clone`,
    );
    check(after.password !== before.password, "the password did not change");
    const calls = resources.atlas.requests
      .filter((request) => request.path.startsWith("/api/atlas/"))
      .map((request) => `${request.method} ${request.status}`);

    // The application's client, opened before the rotation, keeps working: its user was not touched.
    const users = await context.app.db(resources.database).collection("users").countDocuments();
    // A new connection with the rotated credentials, as the next application start would open.
    check(await credentialsLogIn(after), `the rotated credentials (user ${after.username}) do not log in`);
    const fresh = new MongoClient(after.MONGODB_URI, {
      appName: "opendev",
      serverSelectionTimeoutMS: 10_000,
    });
    let orders: number;
    try {
      orders = await fresh.db(after.database).collection("orders").countDocuments();
    } finally {
      await fresh.close();
    }
    check(
      await credentialsLogIn(before),
      `the previous credentials (user ${before.username}) stopped working`,
    );
    return [
      `AWSCURRENT is now user ${after.username} with a new ${after.password.length}-character password, ` +
        `set through the Atlas Admin API stand-in (${calls.join(", ")})`,
      `rotated credentials log in: a new connection reads ${count(orders)} orders; the app's open connection ` +
        `still reads (${count(users)} users); the previous user keeps working until the next rotation`,
    ];
  });
}
