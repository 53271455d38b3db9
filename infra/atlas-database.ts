import * as aws from "@pulumi/aws";
import * as mongodbatlas from "@pulumi/mongodbatlas";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { scratchDatabaseName } from "../lambdas/core/restore-test/scratch";
import { CLONE_SUFFIX } from "../lambdas/core/rotation/database-password";
import type { AtlasOpsConfig } from "./config";
import { UNSAFE_ACCESS_COMMENT } from "./config-rules";

export type DatabaseUserName = "app" | "backup" | "restoreTest";

export interface DatabaseRole {
  roleName: string;
  databaseName: string;
}

/**
 * Least privilege per user. The backup user gets `read` on each backed-up database rather than Atlas'
 * cluster-wide `backup` role: mongodump of an application database needs find, listCollections and
 * listIndexes (all in `read`, as are dbStats/collStats for db-stats), while `backup` would also expose every
 * other database and the config/admin internals. The restore-test user may only touch scratch databases:
 * its own (where the rotation test logs in) and the one the restore test writes per backed-up database
 * (`restoretest_<db>`); readWrite to restore, dbAdmin to drop them afterwards and to restore collection
 * options.
 */
export function databaseUserRoles(config: AtlasOpsConfig): Record<DatabaseUserName, DatabaseRole[]> {
  const scratch = [
    ...new Set([config.restoreTestDatabase, ...config.backupDatabases.map((db) => scratchDatabaseName(db))]),
  ];
  return {
    app: [{ roleName: "readWrite", databaseName: config.appDatabase }],
    backup: config.backupDatabases.map((databaseName) => ({ roleName: "read", databaseName })),
    restoreTest: scratch.flatMap((databaseName) => [
      { roleName: "readWrite", databaseName },
      { roleName: "dbAdmin", databaseName },
    ]),
  };
}

/** Strips the scheme so the secret's `host` field is what `mongodb+srv://` expects. */
export function srvHost(connectionString: string): string {
  return connectionString.replace(/^mongodb(\+srv)?:\/\//, "").replace(/\/.*$/, "");
}

/**
 * The SRV host of the cluster behind one VPC endpoint. Never the public host instead: in privatelink mode the
 * jobs' secrets must point at the endpoint, and a silent fallback would hand out a host the access list may
 * not let them reach.
 */
export function privateEndpointHost(
  connectionStrings: {
    standardSrv?: string;
    privateEndpoints?: { srvConnectionString?: string; endpoints?: { endpointId?: string }[] }[];
  },
  vpcEndpointId: string,
  clusterName: string,
): string {
  const entry = (connectionStrings.privateEndpoints ?? []).find((e) =>
    (e.endpoints ?? []).some((endpoint) => endpoint.endpointId === vpcEndpointId),
  );
  if (!entry?.srvConnectionString) {
    throw new Error(
      `Atlas reports no private connection string of cluster ${clusterName} for VPC endpoint ${vpcEndpointId}; ` +
        "refusing to fall back to the public host (run `pulumi refresh` once the endpoint is AVAILABLE, then `pulumi up`)",
    );
  }
  return srvHost(entry.srvConnectionString);
}

/**
 * Atlas' snapshot policy: daily snapshots kept `dailyDays`, weekly ones at least 4 weeks and monthly ones at
 * least 12 months. Atlas refuses a less frequent item that keeps snapshots for less time than a more frequent
 * one, so long daily retention lengthens the weekly and monthly ones too.
 */
export function snapshotPolicyItems(dailyDays: number) {
  const weeks = Math.max(4, Math.ceil(dailyDays / 7));
  const months = Math.max(12, Math.ceil((weeks * 7) / 28));
  return {
    policyItemDaily: { frequencyInterval: 1, retentionUnit: "days", retentionValue: dailyDays },
    policyItemWeeklies: [{ frequencyInterval: 7, retentionUnit: "weeks", retentionValue: weeks }],
    policyItemMonthlies: [{ frequencyInterval: 1, retentionUnit: "months", retentionValue: months }],
  };
}

export interface AtlasDatabaseArgs {
  config: AtlasOpsConfig;
  /** The jobs' egress IP (NAT gateway) for the access lists; undefined only in public-unsafe mode. */
  jobsPublicIp?: pulumi.Input<string>;
  /** For PrivateLink: the VPC, subnets and security group of the jobs. */
  privateLink?: {
    vpcId: pulumi.Input<string>;
    subnetIds: pulumi.Input<string>[];
    securityGroupId: pulumi.Input<string>;
  };
}

export interface AtlasUser {
  username: string;
  password: pulumi.Output<string>;
  database: string;
}

/**
 * The Atlas project and cluster with its users, network path, native snapshots and Atlas alerts. Passwords
 * come from @pulumi/random and only leave as secret outputs for RotatingSecret; Atlas keeps whatever the
 * rotation Lambda sets later (ignoreChanges on the password).
 */
export class AtlasDatabase extends pulumi.ComponentResource {
  public readonly projectId: pulumi.Output<string>;
  public readonly clusterName: pulumi.Output<string>;
  /** SRV host name for `mongodb+srv://` (the private endpoint's when PrivateLink is on). */
  public readonly host: pulumi.Output<string>;
  public readonly users: Record<DatabaseUserName, AtlasUser>;
  public readonly adminClientId: pulumi.Output<string>;
  public readonly adminClientSecret: pulumi.Output<string>;
  /** When the rotation Lambda's Atlas secret expires (ISO 8601, UTC): an alarm warns 14 days ahead. */
  public readonly adminSecretExpiresAt: pulumi.Output<string>;

  constructor(name: string, args: AtlasDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atlas-ops:atlas:AtlasDatabase", name, {}, opts);
    const { config } = args;
    const atlas = config.atlas;
    const parent = { parent: this };

    const project = new mongodbatlas.Project(
      `${name}-project`,
      {
        orgId: atlas.orgId,
        name: atlas.projectName,
        withDefaultAlertsSettings: true,
      },
      parent,
    );

    // The endpoint first, the cluster after it (as the provider's PrivateLink example does): a cluster
    // created in parallel has no private connection string yet.
    const privateLink =
      config.network.mode === "privatelink" && args.privateLink
        ? this.privateLink(name, args, project, args.privateLink)
        : undefined;

    const computeScaling = atlas.maxInstanceSize !== undefined;
    const cluster = new mongodbatlas.AdvancedCluster(
      `${name}-cluster`,
      {
        projectId: project.id,
        name: atlas.clusterName,
        clusterType: "REPLICASET",
        mongoDbMajorVersion: atlas.mongoDbMajorVersion,
        backupEnabled: true,
        terminationProtectionEnabled: atlas.terminationProtection,
        replicationSpecs: [
          {
            regionConfigs: [
              {
                providerName: "AWS",
                regionName: atlas.regionName,
                priority: 7,
                electableSpecs: {
                  instanceSize: atlas.instanceSize,
                  nodeCount: 3,
                  diskSizeGb: atlas.diskSizeGb,
                },
                autoScaling: {
                  diskGbEnabled: true,
                  computeEnabled: computeScaling,
                  computeScaleDownEnabled: computeScaling,
                  computeMinInstanceSize: computeScaling ? atlas.instanceSize : undefined,
                  computeMaxInstanceSize: atlas.maxInstanceSize,
                },
              },
            ],
          },
        ],
      },
      {
        parent: this,
        dependsOn: privateLink ? [privateLink.attachment] : [],
        // Auto-scaling changes disk (and tier) in Atlas; the next `pulumi up` must not shrink them back.
        ignoreChanges: [
          "replicationSpecs[0].regionConfigs[0].electableSpecs.diskSizeGb",
          ...(computeScaling ? ["replicationSpecs[0].regionConfigs[0].electableSpecs.instanceSize"] : []),
        ],
      },
    );

    this.accessList(name, args, project);
    this.host = privateLink
      ? pulumi
          .all([cluster.connectionStrings, privateLink.vpcEndpointId, cluster.name])
          .apply(([strings, endpointId, clusterName]) =>
            privateEndpointHost(strings, endpointId, clusterName),
          )
      : cluster.connectionStrings.apply((c) => srvHost(c.standardSrv));

    new mongodbatlas.CloudBackupSchedule(
      `${name}-snapshots`,
      {
        projectId: project.id,
        clusterName: cluster.name,
        referenceHourOfDay: 1,
        referenceMinuteOfHour: 0,
        restoreWindowDays: Math.min(atlas.snapshotRetentionDays, 7),
        ...snapshotPolicyItems(atlas.snapshotRetentionDays),
      },
      parent,
    );

    const roles = databaseUserRoles(config);
    // Alternating-users rotation switches each secret between `<user>` and `<user>_clone`: the stack owns
    // both (same roles, scope and lifetime), rotation owns their passwords.
    const pair = config.rotation.strategy === "alternating-users";
    const databaseUser = (resource: string, username: string, key: DatabaseUserName, description: string) => {
      const password = new random.RandomPassword(
        `${resource}-password`,
        { length: 40, special: false },
        parent,
      );
      new mongodbatlas.DatabaseUser(
        resource,
        {
          projectId: project.id,
          authDatabaseName: "admin",
          username,
          password: password.result,
          roles: roles[key],
          scopes: [{ name: cluster.name, type: "CLUSTER" }],
          description,
        },
        { parent: this, ignoreChanges: ["password"] },
      );
      return password;
    };
    const user = (key: DatabaseUserName, username: string, database: string): AtlasUser => {
      const password = databaseUser(`${name}-${key}`, username, key, `atlas-ops ${key} user`);
      if (pair) {
        databaseUser(
          `${name}-${key}-clone`,
          username + CLONE_SUFFIX,
          key,
          `atlas-ops ${key} user (other of the alternating pair)`,
        );
      }
      return { username, password: pulumi.secret(password.result), database };
    };
    this.users = {
      app: user("app", `${config.appName}-app`, config.appDatabase),
      // The rotation test logs in and lists this database's collections: one the user may read.
      backup: user("backup", `${config.appName}-backup`, config.backupDatabases[0] ?? config.appDatabase),
      restoreTest: user("restoreTest", `${config.appName}-restore-test`, config.restoreTestDatabase),
    };

    // The rotation Lambda's own Atlas credentials: may manage database users of this project, nothing else.
    // Creating the account makes Atlas generate a first secret (this provider version cannot skip it); it is
    // never used, and the secret below cuts its life to 7 days (Atlas shortens older secrets on each new one).
    // It stays in the state, so it is marked secret there.
    const admin = new mongodbatlas.ProjectServiceAccount(
      `${name}-rotation-admin`,
      {
        projectId: project.id,
        name: `${config.appName}-rotation`,
        description: "atlas-ops: rotates database user passwords",
        roles: ["GROUP_DATABASE_ACCESS_ADMIN"],
        secretExpiresAfterHours: atlas.adminSecretExpiresAfterDays * 24,
      },
      { parent: this, additionalSecretOutputs: ["secrets"] },
    );
    // The one secret the Lambda uses. Atlas allows two per account and keeps expired ones, and the first slot
    // is the account's own: a create-before-delete replacement would need a third. Delete-before-replace
    // frees the slot first, so `pulumi up --replace` renews it every time (docs/deploy.md).
    const adminSecret = new mongodbatlas.ProjectServiceAccountSecret(
      `${name}-rotation-admin-secret`,
      {
        projectId: project.id,
        clientId: admin.clientId,
        secretExpiresAfterHours: atlas.adminSecretExpiresAfterDays * 24,
      },
      { parent: this, deleteBeforeReplace: true, additionalSecretOutputs: ["secret"] },
    );
    if (args.jobsPublicIp) {
      new mongodbatlas.ProjectServiceAccountAccessListEntry(
        `${name}-rotation-admin-ip`,
        {
          projectId: project.id,
          clientId: admin.clientId,
          ipAddress: args.jobsPublicIp,
        },
        parent,
      );
    }
    this.adminClientId = admin.clientId;
    this.adminClientSecret = pulumi.secret(adminSecret.secret);
    this.adminSecretExpiresAt = adminSecret.expiresAt;

    this.alerts(name, config, project.id);

    this.projectId = project.id;
    this.clusterName = cluster.name;
    this.registerOutputs({ projectId: this.projectId, clusterName: this.clusterName, host: this.host });
  }

  /**
   * Who may connect by IP: the NAT IP (nat mode, and privatelink mode while atlasNatAccessWithPrivateLink
   * keeps it for secrets that still name the public host), the application's CIDRs, or, only when forced,
   * everyone.
   */
  private accessList(name: string, args: AtlasDatabaseArgs, project: mongodbatlas.Project): void {
    const { config } = args;
    const parent = { parent: this };
    const network = config.network;
    if (network.mode === "public-unsafe") {
      new mongodbatlas.ProjectIpAccessList(
        `${name}-anywhere`,
        {
          projectId: project.id,
          cidrBlock: "0.0.0.0/0",
          comment: UNSAFE_ACCESS_COMMENT,
        },
        parent,
      );
    } else if (
      args.jobsPublicIp &&
      (network.mode === "nat" || (network.mode === "privatelink" && network.natAccessWithPrivateLink))
    ) {
      new mongodbatlas.ProjectIpAccessList(
        `${name}-jobs`,
        {
          projectId: project.id,
          ipAddress: args.jobsPublicIp,
          comment: "atlas-ops jobs (NAT gateway)",
        },
        parent,
      );
    }
    network.appAccessCidrs.forEach(
      (cidrBlock, i) =>
        new mongodbatlas.ProjectIpAccessList(
          `${name}-app-${i}`,
          {
            projectId: project.id,
            cidrBlock,
            comment: "application servers",
          },
          parent,
        ),
    );
  }

  /** An AWS interface endpoint in the jobs' subnets, attached to the project's Atlas endpoint service. */
  private privateLink(
    name: string,
    args: AtlasDatabaseArgs,
    project: mongodbatlas.Project,
    link: NonNullable<AtlasDatabaseArgs["privateLink"]>,
  ): { attachment: mongodbatlas.PrivateLinkEndpointService; vpcEndpointId: pulumi.Output<string> } {
    const parent = { parent: this };
    const service = new mongodbatlas.PrivateLinkEndpoint(
      `${name}-privatelink`,
      {
        projectId: project.id,
        providerName: "AWS",
        region: args.config.awsRegion,
      },
      parent,
    );
    const endpointSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-privatelink`,
      {
        vpcId: link.vpcId,
        description: "Atlas PrivateLink: MongoDB from the jobs only",
        ingress: [{ protocol: "tcp", fromPort: 1024, toPort: 65535, securityGroups: [link.securityGroupId] }],
      },
      parent,
    );
    const endpoint = new aws.ec2.VpcEndpoint(
      `${name}-privatelink`,
      {
        vpcId: link.vpcId,
        serviceName: service.endpointServiceName,
        vpcEndpointType: "Interface",
        subnetIds: link.subnetIds,
        securityGroupIds: [endpointSecurityGroup.id],
      },
      parent,
    );
    const attachment = new mongodbatlas.PrivateLinkEndpointService(
      `${name}-privatelink`,
      {
        projectId: project.id,
        privateLinkId: service.privateLinkId,
        endpointServiceId: endpoint.id,
        providerName: "AWS",
      },
      parent,
    );
    return { attachment, vpcEndpointId: endpoint.id };
  }

  /** Atlas' own alerts, mailed to the same technical contacts as the CloudWatch alarms. */
  private alerts(name: string, config: AtlasOpsConfig, projectId: pulumi.Output<string>): void {
    const notifications = config.contacts.technical.map((emailAddress) => ({
      typeName: "EMAIL",
      emailAddress,
      delayMin: 0,
      intervalMin: 60,
    }));
    const alert = (
      id: string,
      args: Omit<mongodbatlas.AlertConfigurationArgs, "projectId" | "notifications">,
    ) =>
      new mongodbatlas.AlertConfiguration(
        `${name}-alert-${id}`,
        { projectId, notifications, enabled: true, ...args },
        {
          parent: this,
        },
      );
    alert("no-primary", { eventType: "NO_PRIMARY" });
    alert("host-down", { eventType: "HOST_DOWN" });
    alert("snapshot-behind", { eventType: "CPS_SNAPSHOT_BEHIND" });
    alert("oplog-window", {
      eventType: "REPLICATION_OPLOG_WINDOW_RUNNING_OUT",
      thresholdConfig: { operator: "LESS_THAN", threshold: 1, units: "HOURS" },
    });
    alert("disk-used", {
      eventType: "OUTSIDE_METRIC_THRESHOLD",
      metricThresholdConfig: {
        metricName: "DISK_PARTITION_SPACE_USED_DATA",
        operator: "GREATER_THAN",
        threshold: Math.round(config.alarms.storageShare * 100),
        units: "RAW",
        mode: "AVERAGE",
      },
    });
    alert("connections", {
      eventType: "OUTSIDE_METRIC_THRESHOLD",
      metricThresholdConfig: {
        metricName: "CONNECTIONS_PERCENT",
        operator: "GREATER_THAN",
        threshold: 80,
        units: "RAW",
        mode: "AVERAGE",
      },
    });
  }
}
