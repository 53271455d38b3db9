import { createJobHandler } from "../adapters/job-handler";
import { createRestart } from "../adapters/restart";
import {
  reportRotationFailure,
  rotationReporter,
  SecretsManagerRotationStore,
} from "../adapters/secret-rotation";
import { AtlasAdminApi, parseAtlasAdminCredentials } from "../core/rotation/atlas-admin-api";
import {
  databasePasswordRotation,
  PASSWORD_EXCLUDED_CHARACTERS,
  PASSWORD_LENGTH,
} from "../core/rotation/database-password";
import { handleRotationEvent } from "../core/rotation/rotation-job";
import { loadMongodbPasswordRotationConfig, type MongodbPasswordRotationConfig } from "./config";

const store = new SecretsManagerRotationStore();

/** Rotation function of the MongoDB Atlas database users' passwords (app, backup, restore-test secrets). */
export const handler = createJobHandler<unknown, MongodbPasswordRotationConfig, void>({
  job: "rotate-mongodb-password",
  loadConfig: loadMongodbPasswordRotationConfig,
  onFailure: reportRotationFailure,
  run: (event, config, tools) =>
    handleRotationEvent(event, {
      store,
      // The admin secret is read per invocation, so rotating it never leaves this function with stale keys.
      strategy: async () => {
        const adminSecret = await store.readCurrent(config.adminSecretId, "ATLAS_ADMIN_SECRET_ID");
        const atlas = new AtlasAdminApi({
          baseUrl: config.apiBaseUrl,
          projectId: config.projectId,
          credentials: parseAtlasAdminCredentials(adminSecret, config.adminSecretId),
          credentialsSource: `secret ${config.adminSecretId}`,
        });
        return databasePasswordRotation({
          strategy: config.strategy,
          atlas,
          newPassword: () => store.randomPassword(PASSWORD_LENGTH, PASSWORD_EXCLUDED_CHARACTERS),
          loginWaitMs: config.loginWaitMs,
          host: config.host,
        });
      },
      restart: createRestart(config.restart, store),
      reporter: rotationReporter(tools),
    }),
});
