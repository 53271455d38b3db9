import * as mongodbatlas from "@pulumi/mongodbatlas";
import * as pulumi from "@pulumi/pulumi";
import type { AtlasOpsConfig } from "./config";
import { RotatingSecret } from "./rotating-secret";

/**
 * Read-only Atlas credentials for the two reviews, one service account each, with the narrowest project
 * roles the Atlas Administration API documentation names for what each reads:
 * - security review: project events need Project Read Only; the database access history needs Project
 *   Monitoring Admin or Project Database Access Admin. Monitoring Admin is the narrower (alerts and
 *   maintenance windows; no database users, no access list), so the review never holds the rotation
 *   account's power to change database users.
 * - performance review: processes, measurements and suggested indexes need Project Read Only; slow query
 *   logs need a Project Data Access role or Project Observability Viewer, which reads no data.
 */
export const REVIEWER_ROLES = {
  security: ["GROUP_READ_ONLY", "GROUP_MONITORING_ADMIN"],
  performance: ["GROUP_READ_ONLY", "GROUP_OBSERVABILITY_VIEWER"],
} as const;

export type Reviewer = keyof typeof REVIEWER_ROLES;

export interface AtlasReviewersArgs {
  config: AtlasOpsConfig;
  projectId: pulumi.Input<string>;
  /** The NAT gateway's address: the only one the service accounts accept calls from. */
  jobsPublicIp?: pulumi.Input<string>;
}

export class AtlasReviewers extends pulumi.ComponentResource {
  public readonly secrets: Record<Reviewer, RotatingSecret>;

  constructor(name: string, args: AtlasReviewersArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atlas-ops:reviews:AtlasReviewers", name, {}, opts);
    const { config } = args;
    const parent = { parent: this };
    const hours = config.atlas.adminSecretExpiresAfterDays * 24;
    const reviewer = (kind: Reviewer): RotatingSecret => {
      const account = new mongodbatlas.ProjectServiceAccount(
        `${name}-${kind}`,
        {
          projectId: args.projectId,
          name: `${config.appName}-${kind}-review`,
          description: `atlas-ops: ${kind} review (read-only)`,
          roles: [...REVIEWER_ROLES[kind]],
          secretExpiresAfterHours: hours,
        },
        parent,
      );
      const secret = new mongodbatlas.ProjectServiceAccountSecret(
        `${name}-${kind}-secret`,
        { projectId: args.projectId, clientId: account.clientId, secretExpiresAfterHours: hours },
        parent,
      );
      if (args.jobsPublicIp) {
        new mongodbatlas.ProjectServiceAccountAccessListEntry(
          `${name}-${kind}-ip`,
          { projectId: args.projectId, clientId: account.clientId, ipAddress: args.jobsPublicIp },
          parent,
        );
      }
      return new RotatingSecret(
        `atlas-${kind}-review`,
        {
          secretName: `${config.appName}/atlas/${kind}-review`,
          description: `Atlas service account of the ${kind} review (read-only roles)`,
          rotatedBy: "pulumi",
          initialValue: pulumi
            .all([account.clientId, pulumi.secret(secret.secret)])
            .apply(([clientId, clientSecret]) => JSON.stringify({ clientId, clientSecret })),
        },
        parent,
      );
    };
    this.secrets = { security: reviewer("security"), performance: reviewer("performance") };
    this.registerOutputs({});
  }
}
