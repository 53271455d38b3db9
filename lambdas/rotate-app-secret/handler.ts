import { createJobObservability } from "../adapters/observability";
import { createRestart } from "../adapters/restart";
import { rotationReporter, SecretsManagerRotationStore } from "../adapters/secret-rotation";
import { appSecretRotation } from "../core/rotation/app-secret";
import { readRestartConfig } from "../core/rotation/restart";
import { handleRotationEvent, type RotationJob } from "../core/rotation/rotation-job";

/** Rotation function of an application signing secret (NEXTAUTH_SECRET, JWT_SECRET, ...). */
const restartConfig = readRestartConfig(process.env);
const store = new SecretsManagerRotationStore();
const job: RotationJob = {
  store,
  strategy: async () => appSecretRotation,
  restart: createRestart(restartConfig, store),
  reporter: rotationReporter(createJobObservability("rotate-app-secret")),
};

export async function handler(event: unknown): Promise<void> {
  await handleRotationEvent(event, job);
}
