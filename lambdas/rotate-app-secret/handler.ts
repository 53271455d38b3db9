import { createJobHandler } from "../adapters/job-handler";
import { createRestart } from "../adapters/restart";
import {
  reportRotationFailure,
  rotationReporter,
  SecretsManagerRotationStore,
} from "../adapters/secret-rotation";
import { appSecretRotation } from "../core/rotation/app-secret";
import { handleRotationEvent } from "../core/rotation/rotation-job";
import { loadAppSecretRotationConfig, type AppSecretRotationConfig } from "./config";

const store = new SecretsManagerRotationStore();

/** Rotation function of an application signing secret (NEXTAUTH_SECRET, JWT_SECRET, ...). */
export const handler = createJobHandler<unknown, AppSecretRotationConfig, void>({
  job: "rotate-app-secret",
  loadConfig: loadAppSecretRotationConfig,
  onFailure: reportRotationFailure,
  run: (event, config, tools) =>
    handleRotationEvent(event, {
      store,
      strategy: async () => appSecretRotation,
      restart: createRestart(config.restart, store),
      reporter: rotationReporter(tools),
    }),
});
