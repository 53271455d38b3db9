import { ECSClient, UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { webhookRestart, type RestartApplication, type RestartConfig } from "../core/rotation/restart";
import type { SecretsManagerRotationStore } from "./secret-rotation";

/** Redeploys each ECS service (forceNewDeployment) so its tasks start again and read the new secret. */
export function ecsRestart(
  cluster: string,
  services: string[],
  client = new ECSClient({}),
): RestartApplication {
  return async () => {
    const failures: string[] = [];
    for (const service of services) {
      try {
        await client.send(new UpdateServiceCommand({ cluster, service, forceNewDeployment: true }));
      } catch (error) {
        failures.push(`${service}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (failures.length > 0) {
      throw new Error(`ECS restart in cluster ${cluster} failed for ${failures.join("; ")}`);
    }
  };
}

/** The restart configured by RESTART_MODE; the webhook key is read from its secret when the hook is called. */
export function createRestart(config: RestartConfig, store: SecretsManagerRotationStore): RestartApplication {
  switch (config.mode) {
    case "none":
      return async () => {};
    case "ecs":
      return ecsRestart(config.cluster, config.services);
    case "webhook":
      return webhookRestart({
        url: config.url,
        signingKey: () => store.readCurrent(config.secretId, "RESTART_WEBHOOK_SECRET_ID"),
      });
  }
}
