import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/**
 * Splits a VPC block (/20 or larger) into consecutive /24 subnets: index 0..n-1. Pure, for tests and for the
 * component below.
 */
export function subnetCidrs(vpcCidr: string, count: number): string[] {
  const [address = "", bits = ""] = vpcCidr.split("/");
  if (Number(bits) > 20) throw new Error(`VPC block ${vpcCidr} is smaller than /20`);
  const base = address.split(".").reduce((sum, octet) => sum * 256 + Number(octet), 0);
  return Array.from({ length: count }, (_, i) => {
    const start = base + i * 256;
    return `${[24, 16, 8, 0].map((shift) => (start >>> shift) & 255).join(".")}/24`;
  });
}

export interface NetworkArgs {
  cidrBlock: string;
}

/**
 * A VPC whose private subnets reach the internet (Atlas, AWS APIs, the health-check URL) only through one NAT
 * gateway, so every job leaves from one Elastic IP: the single entry of the Atlas access list. S3 traffic
 * stays on a free gateway endpoint (backups would otherwise pay NAT data charges).
 */
export class Network extends pulumi.ComponentResource {
  public readonly vpcId: pulumi.Output<string>;
  public readonly privateSubnetIds: pulumi.Output<string>[];
  public readonly lambdaSecurityGroupId: pulumi.Output<string>;
  public readonly natPublicIp: pulumi.Output<string>;
  public readonly privateRouteTableId: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atlas-ops:network:Network", name, {}, opts);
    const parent = { parent: this };
    const zones = aws.getAvailabilityZonesOutput({ state: "available" }, parent);
    const [privateA, privateB, publicA] = subnetCidrs(args.cidrBlock, 3) as [string, string, string];

    const vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      {
        cidrBlock: args.cidrBlock,
        enableDnsHostnames: true,
        enableDnsSupport: true,
        tags: { Name: `${name}-vpc` },
      },
      parent,
    );
    const zone = (i: number) => zones.names.apply((names) => names[i % names.length] as string);
    const privateSubnets = [privateA, privateB].map(
      (cidrBlock, i) =>
        new aws.ec2.Subnet(
          `${name}-private-${i}`,
          {
            vpcId: vpc.id,
            cidrBlock,
            availabilityZone: zone(i),
            tags: { Name: `${name}-private-${i}` },
          },
          parent,
        ),
    );
    const publicSubnet = new aws.ec2.Subnet(
      `${name}-public-0`,
      {
        vpcId: vpc.id,
        cidrBlock: publicA,
        availabilityZone: zone(0),
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-public-0` },
      },
      parent,
    );

    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id }, parent);
    const publicRoutes = new aws.ec2.RouteTable(
      `${name}-public`,
      {
        vpcId: vpc.id,
        routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }],
      },
      parent,
    );
    new aws.ec2.RouteTableAssociation(
      `${name}-public-0`,
      {
        subnetId: publicSubnet.id,
        routeTableId: publicRoutes.id,
      },
      parent,
    );

    const natIp = new aws.ec2.Eip(
      `${name}-nat-ip`,
      { domain: "vpc", tags: { Name: `${name}-nat-ip` } },
      parent,
    );
    const nat = new aws.ec2.NatGateway(
      `${name}-nat`,
      {
        allocationId: natIp.allocationId,
        subnetId: publicSubnet.id,
        tags: { Name: `${name}-nat` },
      },
      { parent: this, dependsOn: [gateway] },
    );
    const privateRoutes = new aws.ec2.RouteTable(
      `${name}-private`,
      {
        vpcId: vpc.id,
        routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.id }],
      },
      parent,
    );
    privateSubnets.forEach(
      (subnet, i) =>
        new aws.ec2.RouteTableAssociation(
          `${name}-private-${i}`,
          {
            subnetId: subnet.id,
            routeTableId: privateRoutes.id,
          },
          parent,
        ),
    );
    const region = aws.getRegionOutput({}, parent);
    new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      {
        vpcId: vpc.id,
        serviceName: pulumi.interpolate`com.amazonaws.${region.region}.s3`,
        vpcEndpointType: "Gateway",
        routeTableIds: [privateRoutes.id],
      },
      parent,
    );

    // Jobs only open connections; nothing may connect to them.
    const lambdaSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-jobs`,
      {
        vpcId: vpc.id,
        description: "atlas-ops jobs: outbound only",
        egress: [
          { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], description: "outbound" },
        ],
      },
      parent,
    );

    this.vpcId = vpc.id;
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.lambdaSecurityGroupId = lambdaSecurityGroup.id;
    this.natPublicIp = natIp.publicIp;
    this.privateRouteTableId = privateRoutes.id;
    this.registerOutputs({
      vpcId: this.vpcId,
      privateSubnetIds: this.privateSubnetIds,
      lambdaSecurityGroupId: this.lambdaSecurityGroupId,
      natPublicIp: this.natPublicIp,
    });
  }
}
