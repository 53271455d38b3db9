import { describe, expect, it } from "vitest";
import { atlasAccessListNotOpen } from "../../policy/rules";
import { NAT_IP, ofType, PRIVATE_SRV } from "./mocks";
import { runStack } from "./stack-run";

describe("network and storage options", () => {
  it("privatelink: connects the jobs through the private endpoint and keeps Atlas closed to IPs", async () => {
    const { resources, outputs } = await runStack({ networkMode: "privatelink" });
    const endpoint = ofType(resources, "aws:ec2/vpcEndpoint:VpcEndpoint").find(
      (e) => e.inputs.vpcEndpointType === "Interface",
    );
    expect(endpoint?.inputs.serviceName).toBe("com.amazonaws.vpce.eu-central-1.vpce-svc-1");
    expect(
      ofType(resources, "mongodbatlas:index/privateLinkEndpointService:PrivateLinkEndpointService"),
    ).toHaveLength(1);
    expect(ofType(resources, "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList")).toEqual([]);
    expect(outputs.atlasHost).toBe(PRIVATE_SRV.replace("mongodb+srv://", ""));
    // The rotation and review service accounts still call the Admin API from the NAT IP only.
    const adminIp = ofType(
      resources,
      "mongodbatlas:index/projectServiceAccountAccessListEntry:ProjectServiceAccountAccessListEntry",
    );
    expect(adminIp.map((e) => e.inputs.ipAddress)).toEqual([NAT_IP, NAT_IP, NAT_IP]);
  });

  it("public-unsafe: no VPC, and the policy pack still flags the open access list", async () => {
    const { resources } = await runStack({
      networkMode: "public-unsafe",
      unsafeAllowAtlasAccessFromAnywhere: "true",
    });
    expect(ofType(resources, "aws:ec2/vpc:Vpc")).toEqual([]);
    expect(ofType(resources, "aws:lambda/function:Function").filter((f) => f.inputs.vpcConfig)).toEqual([]);
    const entries = ofType(resources, "mongodbatlas:index/projectIpAccessList:ProjectIpAccessList");
    expect(entries.map((e) => e.inputs.cidrBlock)).toEqual(["0.0.0.0/0"]);
    const violations = atlasAccessListNotOpen(
      resources.map((r) => ({ type: r.type, name: r.name, props: r.state })),
    );
    expect(violations).toHaveLength(1);
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
