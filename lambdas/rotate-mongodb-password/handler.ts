import { createJobObservability } from "../adapters/observability";
import { createRestart } from "../adapters/restart";
import { rotationReporter, SecretsManagerRotationStore } from "../adapters/secret-rotation";
import { AtlasAdminApi, parseAtlasAdminCredentials } from "../core/rotation/atlas-admin-api";
import {
  databasePasswordRotation,
  PASSWORD_EXCLUDED_CHARACTERS,
  PASSWORD_LENGTH,
} from "../core/rotation/database-password";
import { handleRotationEvent, type RotationJob } from "../core/rotation/rotation-job";
import { readMongodbPasswordRotationConfig } from "./config";

/** Rotation function of the application's MongoDB Atlas database password. */
const config = readMongodbPasswordRotationConfig(process.env);
const store = new SecretsManagerRotationStore();
const job: RotationJob = {
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
    });
  },
  restart: createRestart(config.restart, store),
  reporter: rotationReporter(createJobObservability("rotate-mongodb-password")),
};

export async function handler(event: unknown): Promise<void> {
  await handleRotationEvent(event, job);
}
