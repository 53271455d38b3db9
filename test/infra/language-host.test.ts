import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { load } from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import { LAMBDA_BUILD_DIR_ENV, PLACEHOLDER_CODE_ENV } from "../../infra/lambda-code";
import { LAMBDA_NAMES } from "../../lambdas/bundle";
import { testStackValues } from "./stack-config";
import { dataSourceAnswer, REGION } from "./mocks";

/**
 * The program run the way `pulumi preview` runs it: the nodejs language host starts
 * `@pulumi/pulumi/cmd/run` in the program's directory, which compiles the TypeScript with that directory's
 * tsconfig and requires the entry point; the program then talks to the engine and the resource monitor over
 * gRPC. The Pulumi CLI cannot be installed here, so a small engine and monitor stand in for it, following the
 * published protocol (proto/resource.proto, proto/engine.proto): resources are acknowledged with their inputs,
 * and a preview leaves every other output unknown. The unit tests run the program under mocks and the project's
 * own compiler settings; this one catches what only the real runner sees (how it finds the entry point and the
 * compiler options, module loading, configuration from the environment).
 */
const root = resolve(__dirname, "../..");
const fromPulumi = createRequire(require.resolve("@pulumi/pulumi"));
/* eslint-disable @typescript-eslint/no-require-imports -- the SDK's generated gRPC stubs are CommonJS only */
const grpc = fromPulumi("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
const resourceRpc = require("@pulumi/pulumi/proto/resource_grpc_pb") as { ResourceMonitorService: object };
const resourcePb = require("@pulumi/pulumi/proto/resource_pb") as Record<string, new () => Message>;
const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb") as { EngineService: object };
const enginePb = require("@pulumi/pulumi/proto/engine_pb") as Record<string, new () => Message>;
const providerPb = require("@pulumi/pulumi/proto/provider_pb") as Record<string, new () => Message>;
const { Empty } = fromPulumi("google-protobuf/google/protobuf/empty_pb.js") as { Empty: new () => Message };
const { Struct } = fromPulumi("google-protobuf/google/protobuf/struct_pb.js") as {
  Struct: { fromJavaScript(value: object): unknown };
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The generated message classes: getters and setters named after the fields. */
type Message = Record<string, (...args: unknown[]) => unknown>;
type Call = { request: Message };
type Reply = (error: Error | null, response?: unknown) => void;

/**
 * Where the CLI runs the program, what it requires (pkg/engine/project.go, getPwdMain) and the tsconfig it
 * names (the `tsconfig` runtime option, else the runner looks in the program's directory).
 */
function programLocation(): { pwd: string; entry: string; tsconfig?: string } {
  const project = load(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as {
    main?: string;
    runtime?: { options?: { tsconfig?: string } };
  };
  const tsconfig = project.runtime?.options?.tsconfig;
  if (!project.main) return { pwd: root, entry: ".", tsconfig };
  const main = resolve(root, project.main);
  return statSync(main).isDirectory()
    ? { pwd: main, entry: ".", tsconfig }
    : { pwd: dirname(main), entry: basename(main), tsconfig };
}

interface FakeEngine {
  address: string;
  registered: { type: string; name: string }[];
  errors: string[];
  stop(): void;
}

async function startEngine(): Promise<FakeEngine> {
  const registered: FakeEngine["registered"] = [];
  const errors: string[] = [];
  let rootUrn = "";
  const server = new grpc.Server();
  server.addService(resourceRpc.ResourceMonitorService as never, {
    supportsFeature: (_call: Call, reply: Reply) => {
      const response = new resourcePb.SupportsFeatureResponse!();
      response.setHassupport!(false);
      reply(null, response);
    },
    registerResource: (call: Call, reply: Reply) => {
      const type = call.request.getType!() as string;
      const name = call.request.getName!() as string;
      registered.push({ type, name });
      const response = new resourcePb.RegisterResourceResponse!();
      response.setUrn!(`urn:pulumi:prod::atlas-ops::${type}::${name}`);
      if (call.request.getCustom!()) response.setId!(`${name}-id`);
      response.setObject!(call.request.getObject!());
      reply(null, response);
    },
    registerResourceOutputs: (_call: Call, reply: Reply) => reply(null, new Empty()),
    invoke: (call: Call, reply: Reply) => {
      const token = call.request.getTok!() as string;
      // @pulumi/pulumi 3.27x answers invokes with resource.proto's ResourceInvokeResponse (provider.proto's before).
      const response = new (resourcePb.ResourceInvokeResponse ?? providerPb.InvokeResponse)!();
      response.setReturn!(Struct.fromJavaScript(dataSourceAnswer(token) ?? {}));
      reply(null, response);
    },
    signalAndWaitForShutdown: (_call: Call, reply: Reply) => reply(null, new Empty()),
  });
  server.addService(engineRpc.EngineService as never, {
    log: (call: Call, reply: Reply) => {
      // LogSeverity ERROR is 3 (proto/engine.proto).
      if (call.request.getSeverity!() === 3) errors.push(call.request.getMessage!() as string);
      reply(null, new Empty());
    },
    getRootResource: (_call: Call, reply: Reply) => {
      const response = new enginePb.GetRootResourceResponse!();
      response.setUrn!(rootUrn);
      reply(null, response);
    },
    setRootResource: (call: Call, reply: Reply) => {
      rootUrn = call.request.getUrn!() as string;
      reply(null, new enginePb.SetRootResourceResponse!());
    },
    requirePulumiVersion: (_call: Call, reply: Reply) => reply(null, new Empty()),
  });
  const port = await new Promise<number>((done, fail) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? fail(error) : done(bound),
    ),
  );
  return { address: `127.0.0.1:${port}`, registered, errors, stop: () => server.forceShutdown() };
}

let engine: FakeEngine | undefined;
let program: ChildProcess | undefined;
// The program bundles the Lambdas as a deploy does, here into a scratch directory.
const buildDir = mkdtempSync(join(tmpdir(), "atlas-ops-language-host-"));
afterAll(() => {
  program?.kill("SIGKILL");
  engine?.stop();
  rmSync(buildDir, { recursive: true, force: true });
});

describe("the Pulumi program under the real nodejs runner", () => {
  it("compiles with the project's settings, reads the stack config and registers the stack", async () => {
    engine = await startEngine();
    const { pwd, entry, tsconfig } = programLocation();
    // The language host hands configuration over as <namespace>:config:<key> (constructConfig).
    const config: Record<string, string> = { "aws:config:region": REGION };
    for (const [key, value] of Object.entries(testStackValues())) config[`atlas-ops:config:${key}`] = value;
    const runner = require.resolve("@pulumi/pulumi/cmd/run");
    const args = [runner, "--monitor", engine.address, "--engine", engine.address, "--project", "atlas-ops"];
    args.push("--stack", "prod", "--pwd", pwd, "--dry-run", "--parallel", "4", entry);
    const child = (program = spawn(process.execPath, args, {
      cwd: pwd,
      // As the host's RunRequest sets them (Pulumi.yaml's runtime option `typescript: true`).
      env: {
        ...process.env,
        PULUMI_CONFIG: JSON.stringify(config),
        PULUMI_CONFIG_SECRET_KEYS: "[]",
        PULUMI_NODEJS_TYPESCRIPT: "true",
        ...(tsconfig ? { PULUMI_NODEJS_TSCONFIG_PATH: tsconfig } : {}),
        [LAMBDA_BUILD_DIR_ENV]: buildDir,
        [PLACEHOLDER_CODE_ENV]: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    }));
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((done, fail) => {
      child.on("exit", done);
      child.on("error", fail);
    });
    expect({ code, errors: engine.errors }, output).toEqual({ code: 0, errors: [] });
    const types = engine.registered.map((resource) => resource.type);
    expect(types).toContain("pulumi:pulumi:Stack");
    expect(types.filter((type) => type === "aws:lambda/function:Function")).toHaveLength(10);
    expect(readdirSync(buildDir).sort()).toEqual([...LAMBDA_NAMES].sort());
    expect(types).toContain("mongodbatlas:index/advancedCluster:AdvancedCluster");
    expect(types).toContain("aws:s3/bucket:Bucket");
    expect(types).toContain("aws:scheduler/schedule:Schedule");
  }, 300_000);
});
