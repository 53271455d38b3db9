import { randomUUID } from "node:crypto";
import { vi } from "vitest";
import { credentialsLogIn } from "../../lambdas/core/rotation/database-password";
import { buildMongoUri, parseDatabaseCredentials } from "../../lambdas/core/mongo/credentials";
import { startFakeAtlasApi, type FakeAtlasApi } from "../support/fake-atlas-api";
import { postgresUsers } from "./postgres-users";
import { SecretsService, type Handler } from "./secrets-service";

/** The test services' FerretDB on PostgreSQL, where a PostgreSQL role is a MongoDB user. */
function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: start the test services (npm run services -- up)`);
  return value;
}

export interface DatabaseFixture {
  run: string;
  projectId: string;
  atlas: FakeAtlasApi;
  service: SecretsService;
  users: ReturnType<typeof postgresUsers>;
  apiKeySecretId: string;
  atlasApiKey: { publicKey: string; privateKey: string };
  serviceAccountSecretId: string;
  /**
   * A new PostgreSQL login (registered with the fake Atlas) and a rotating secret holding its credentials.
   * `pair`: also its `_clone`, same roles and an unknown password, as the stack creates it for
   * alternating-users rotation.
   */
  newDatabaseSecret(
    label: string,
    tags?: Record<string, string>,
    options?: { pair?: boolean },
  ): Promise<{ arn: string; username: string; initial: string }>;
  loadHandler(env: Record<string, string>): Promise<Handler>;
  logsIn(secretString: string): Promise<boolean>;
  close(): Promise<void>;
}

export async function startDatabaseFixture(): Promise<DatabaseFixture> {
  const run = randomUUID().slice(0, 8);
  const projectId = randomUUID().replace(/-/g, "").slice(0, 24);
  const users = postgresUsers(requireEnv("TEST_POSTGRES_ADMIN_URL"), process.env.TEST_POSTGRES_FERRETDB_ROLE);
  const apiKey = { publicKey: "rotationpub", privateKey: randomUUID() };
  const serviceAccount = { clientId: `mdb_sa_id_${run}`, clientSecret: `mdb_sa_sk_${randomUUID()}` };
  const atlas = await startFakeAtlasApi({ projectId, backend: users, apiKey, serviceAccount });
  const service = new SecretsService();
  const apiKeySecretId = await service.createPlainSecret(`rotation-${run}-atlas-key`, JSON.stringify(apiKey));
  const serviceAccountSecretId = await service.createPlainSecret(
    `rotation-${run}-atlas-sa`,
    JSON.stringify(serviceAccount),
  );
  const created: string[] = [];
  let serial = 0;

  return {
    run,
    projectId,
    atlas,
    service,
    users,
    apiKeySecretId,
    atlasApiKey: apiKey,
    serviceAccountSecretId,
    async newDatabaseSecret(label, tags = {}, { pair = false } = {}) {
      const username = `rot_${run}_${label}_${++serial}`.replace(/-/g, "_");
      const initial = `Initial-${randomUUID()}`;
      await users.createLogin(username, initial);
      created.push(username, `${username}_clone`);
      const roles = [{ roleName: "readWrite", databaseName: `rotation_${run}` }];
      atlas.addUser({ username, databaseName: "admin", roles });
      if (pair) {
        await users.createLogin(`${username}_clone`, `Unknown-${randomUUID()}`);
        atlas.addUser({ username: `${username}_clone`, databaseName: "admin", roles });
      }
      const parts = {
        username,
        password: initial,
        host: requireEnv("TEST_FERRETDB_PG_HOSTPORT"),
        scheme: "mongodb" as const,
        database: `rotation_${run}`,
        options: "authMechanism=PLAIN",
      };
      const value = JSON.stringify({ ...parts, MONGODB_URI: buildMongoUri(parts) });
      const arn = await service.createRotatingSecret(`rotation-${run}-db-${label}-${serial}`, value, tags);
      return { arn, username, initial };
    },
    async loadHandler(env) {
      vi.resetModules();
      Object.assign(process.env, {
        RESTART_MODE: "none",
        ROTATION_STRATEGY: "single-user",
        ATLAS_ADMIN_SECRET_ID: apiKeySecretId,
        ATLAS_PROJECT_ID: projectId,
        ATLAS_API_BASE_URL: atlas.url,
        ROTATION_LOGIN_WAIT_SECONDS: "20",
        ...env,
      });
      // A fresh module per environment: the handler validates its environment at load, as at a cold start.
      const modulePath = "../../lambdas/rotate-mongodb-password/handler";
      return ((await import(modulePath)) as { handler: Handler }).handler;
    },
    logsIn: (secretString) => credentialsLogIn(parseDatabaseCredentials(secretString, "test")),
    async close() {
      await atlas.close();
      for (const username of created) await users.dropLogin(username).catch(() => undefined);
    },
  };
}
