import { describe, expect, it } from "vitest";
import { privateEndpointHost } from "../../infra/atlas-database";
import { atlasOpenOnPurpose, RULES } from "../../policy/rules";
import { CLUSTER_SRV, NAT_IP, named, ofType, plain, PRIVATE_SRV, waitsFor } from "./mocks";
import { runStack } from "./stack-run";

describe("network and storage options", () => {
  it("privatelink: connects the jobs through the private endpoint; the Admin API still only from the NAT IP", async () => {
    const { resources, outputs } = await runStack({ networkMode: "privatelink" });
    const endpoint = ofType(resources, "aws:ec2/vpcEndpoint:VpcEndpoint").find(
      (e) => e.inputs.vpcEndpointType === "Interface",
    );
    expect(endpoint?.inputs.serviceName).toBe("com.amazonaws.vpce.eu-central-1.vpce-svc-1");
    expect(
      ofType(resources, "mongodbatlas:index/privateLinkEndpointService:PrivateLinkEndpointService"),
    ).toHaveLength(1);
    expect(outputs.atlasHost).toBe(PRIVATE_SRV.replace("mongodb+srv://", ""));
    // The rotation and review service accounts still call the Admin API from the NAT IP only.
    const adminIp = ofType(
      resources,
      "mongodbatlas:index/projectServiceAccountAccessListEntry:ProjectServiceAccountAccessListEntry",
    );
    expect(adminIp.map((e) => e.inputs.ipAddress)).toEqual([NAT_IP, NAT_IP, NAT_IP]);
  });

  it("privatelink: creates the cluster after the endpoint, so its private host exists for the secrets", async () => {
    const { resources } = await runStack({ networkMode: "privatelink" });
    const cluster = ofType(resources, "mongodbatlas:index/advancedCluster:AdvancedCluster")[0]!;
    const attachment = named(
      resources,
      "mongodbatlas:index/privateLinkEndpointService:PrivateLinkEndpointService",
      "database-privatelink",
    );
    expect(waitsFor(cluster, attachment)).toBe(true);
    const privateHost = PRIVATE_SRV.replace("mongodb+srv://", "");
    for (const version of ofType(resources, "aws:secretsmanager/secretVersion:SecretVersion").filter((v) =>
      v.name.startsWith("mongodb-"),
    )) {
      expect(JSON.parse(plain<string>(version.inputs.secretString)).host, version.name).toBe(privateHost);
    }
    // A later rotation moves any secret still on the public host (a stack switched from nat) to this one.
    const rotation = ofType(resources, "aws:lambda/function:Function").find(
      (f) => f.inputs.name === "opendev-rotate-mongodb-password",
    );
    expect(rotation?.inputs.environment.variables.MONGODB_HOST).toBe(privateHost);
  });

  it("privatelink: takes the host of this stack's endpoint, and never falls back to the public host", () => {
    const strings = {
      standardSrv: CLUSTER_SRV,
      privateEndpoints: [
        {
          srvConnectionString: "mongodb+srv://other-pl-0.ab1cd.mongodb.net",
          endpoints: [{ endpointId: "vpce-other" }],
        },
        { srvConnectionString: PRIVATE_SRV, endpoints: [{ endpointId: "vpce-ours" }] },
      ],
    };
    expect(privateEndpointHost(strings, "vpce-ours", "opendev-cluster")).toBe(
      PRIVATE_SRV.replace("mongodb+srv://", ""),
    );
    // The first up before the endpoint is AVAILABLE: a clear failure, not the public host in every secret.
    expect(() =>
      privateEndpointHost({ standardSrv: CLUSTER_SRV, privateEndpoints: [] }, "vpce-ours", "opendev-cluster"),
    ).toThrow(/no private connection string .* refusing to fall back to the public host/);
    expect(() => privateEndpointHost(strings, "vpce-missing", "opendev-cluster")).toThrow(/vpce-missing/);
  });

  it("privatelink: keeps the NAT entry for secrets that still name the public host, until told otherwise", async () => {
    const entries = async (overrides: Record<string, string>) =>
      ofType(
        (await runStack({ networkMode: "privatelink", ...overrides })).resources,
        "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList",
      ).map((e) => e.inputs.ipAddress);
    expect(await entries({})).toEqual([NAT_IP]);
    expect(await entries({ atlasNatAccessWithPrivateLink: "false" })).toEqual([]);
  });

  it("alternating-users: the stack owns both users of each pair, with the same roles", async () => {
    const users = (resources: { type: string; inputs: Record<string, unknown> }[]) =>
      Object.fromEntries(
        ofType(resources as never, "mongodbatlas:index/databaseUser:DatabaseUser").map((u) => [
          u.inputs.username,
          u.inputs.roles,
        ]),
      );
    const pair = users((await runStack({ rotationStrategy: "alternating-users" })).resources);
    expect(Object.keys(pair).sort()).toEqual([
      "opendev-app",
      "opendev-app_clone",
      "opendev-backup",
      "opendev-backup_clone",
      "opendev-restore-test",
      "opendev-restore-test_clone",
    ]);
    for (const name of ["opendev-app", "opendev-backup", "opendev-restore-test"]) {
      expect(pair[`${name}_clone`], name).toEqual(pair[name]);
    }
    const single = users((await runStack()).resources);
    expect(Object.keys(single).sort()).toEqual(["opendev-app", "opendev-backup", "opendev-restore-test"]);
  });

  it("public-unsafe: no VPC; the policy pack lets the requested open entry through, with a warning", async () => {
    const { resources } = await runStack({
      networkMode: "public-unsafe",
      unsafeAllowAtlasAccessFromAnywhere: "true",
    });
    expect(ofType(resources, "aws:ec2/vpc:Vpc")).toEqual([]);
    expect(ofType(resources, "aws:lambda/function:Function").filter((f) => f.inputs.vpcConfig)).toEqual([]);
    const entries = ofType(resources, "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList");
    expect(entries.map((e) => e.inputs.cidrBlock)).toEqual(["0.0.0.0/0"]);
    const stack = resources.map((r) => ({ type: r.type, name: r.name, props: r.state }));
    // The config check and the mandatory rules agree: the mode the config allows can be deployed.
    for (const { name, rule, enforcementLevel } of RULES) {
      if (enforcementLevel !== "advisory") expect(rule(stack), name).toEqual([]);
    }
    expect(atlasOpenOnPurpose(stack)).toHaveLength(1);
  });

  it("object lock, cold storage, a prefix, app access CIDRs and an ECS restart reach their resources", async () => {
    const { resources } = await runStack({
      objectLockMode: "COMPLIANCE",
      objectLockDays: "14",
      coldStorageAfterDays: "7",
      backupPrefix: "opendev/",
      atlasAppAccessCidrs: '["198.51.100.7/32"]',
      restartMode: "ecs",
      restartEcsCluster: "shop",
      restartEcsServices: '["web"]',
    });
    const rotateApp = ofType(resources, "aws:iam/rolePolicy:RolePolicy").find(
      (p) => p.name === "rotate-app-secret-policy",
    );
    const restart = JSON.parse(rotateApp?.inputs.policy).Statement.find(
      (s: { Sid: string }) => s.Sid === "RestartApp",
    );
    expect(restart).toEqual({
      Sid: "RestartApp",
      Effect: "Allow",
      Action: ["ecs:UpdateService", "ecs:DescribeServices"],
      Resource: ["arn:aws:ecs:eu-central-1:123456789012:service/shop/web"],
    });
    expect(ofType(resources, "aws:s3/bucket:Bucket")[0]?.inputs.objectLockEnabled).toBe(true);
    expect(
      ofType(resources, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")[0]?.inputs.rule,
    ).toEqual({
      defaultRetention: { mode: "COMPLIANCE", days: 14 },
    });
    const rules = ofType(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0]
      ?.inputs.rules;
    expect(rules[0]).toMatchObject({
      filter: { prefix: "opendev/daily/" },
      transitions: [{ days: 7, storageClass: "GLACIER_IR" }],
    });
    const backupPolicy = ofType(resources, "aws:iam/rolePolicy:RolePolicy").find(
      (p) => p.name === "backup-policy",
    );
    const statements: { Sid: string; Resource: string[] }[] = JSON.parse(
      backupPolicy?.inputs.policy,
    ).Statement;
    expect(statements.find((s) => s.Sid === "WriteBackups")?.Resource).toEqual([
      "arn:aws:s3:::opendev-backups-test/opendev/*",
    ]);
    const entries = ofType(resources, "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList");
    expect(entries.map((e) => e.inputs.ipAddress ?? e.inputs.cidrBlock).sort()).toEqual([
      "198.51.100.7/32",
      NAT_IP,
    ]);
  });
});
