import { randomBytes } from "node:crypto";
import { startFakeAtlasApi, type FakeAtlasApi } from "../../support/fake-atlas-api";
import {
  atlasReadRoutes,
  emptyReadState,
  type AtlasProjectRole,
  type AtlasReadState,
} from "../../support/fake-atlas-reads";
import { uniqueName } from "../../support/env";
import { createSecret } from "./aws";

/** The Atlas side of the review tests: the contract fake with the read endpoints and a read-only account. */
export interface AtlasReviewFixture {
  atlas: FakeAtlasApi;
  state: AtlasReadState;
  secretId: string;
  clientSecret: string;
  env: Record<string, string>;
}

export async function startAtlasReviewFixture(roles: AtlasProjectRole[]): Promise<AtlasReviewFixture> {
  const projectId = randomBytes(12).toString("hex");
  const state = emptyReadState(projectId, "opendev-cluster", roles);
  const serviceAccount = {
    clientId: `mdb_sa_id_${randomBytes(6).toString("hex")}`,
    clientSecret: `mdb_sa_sk_${randomBytes(16).toString("hex")}`,
  };
  const atlas = await startFakeAtlasApi({
    projectId,
    serviceAccount,
    backend: {
      setPassword: () => Promise.reject(new Error("the reviews never change users")),
      createUser: () => Promise.reject(new Error("the reviews never change users")),
    },
    readRoutes: atlasReadRoutes(state),
  });
  const secretId = await createSecret(uniqueName("reviews/atlas-read"), serviceAccount);
  return {
    atlas,
    state,
    secretId,
    clientSecret: serviceAccount.clientSecret,
    env: {
      ATLAS_PROJECT_ID: projectId,
      ATLAS_CLUSTER_NAME: "opendev-cluster",
      ATLAS_API_BASE_URL: atlas.url,
      ATLAS_READ_SECRET_ID: secretId,
    },
  };
}

/** The three nodes of the cluster (and one of another cluster the reviews must ignore). */
export function clusterNodes(): AtlasReadState["processes"] {
  const host = (n: number) => `opendev-cluster-shard-00-0${n}.ab1cd.mongodb.net`;
  return [
    { id: `${host(0)}:27017`, hostname: host(0), port: 27017, typeName: "REPLICA_SECONDARY" },
    { id: `${host(1)}:27017`, hostname: host(1), port: 27017, typeName: "REPLICA_PRIMARY" },
    { id: `${host(2)}:27017`, hostname: host(2), port: 27017, typeName: "REPLICA_SECONDARY" },
    {
      id: "other-shard-00-00.ab1cd.mongodb.net:27017",
      hostname: "other-shard-00-00.ab1cd.mongodb.net",
      port: 27017,
      typeName: "REPLICA_PRIMARY",
    },
  ];
}
