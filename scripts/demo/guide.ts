import { basename, relative } from "node:path";
import type { DrillContext } from "./context";

/** What to try after `npm run demo -- --keep`: commands that work on what the drill left behind. */
export function lookAroundGuide(context: DrillContext): string[] {
  const { resources } = context;
  const daily = context.backups.daily!;
  const copy = relative(context.root, context.localCopies[0]!);
  const folder = basename(copy, ".tar.gz");
  const namespace = resources.metricsNamespace;
  return [
    "",
    "Left running (--keep): the local services, the sample database, the bucket, the secrets and the metrics.",
    "The local stand-in for the app's /api/health and the Atlas Admin API stand-in lived in the drill's process",
    "and are gone. Look around from the repository root:",
    "",
    "  set -a; . ./.services.env; set +a        # the services' addresses and the local AWS credentials",
    `  npx atlas-ops list s3://${resources.bucket}/`,
    `  npx atlas-ops restore ${daily.url} --uri "$TEST_MONGODB_AUTH_URI" \\`,
    `      --nsFrom '${resources.database}.$collection$' --nsTo '${resources.database}_copy.$collection$'`,
    `  tar -xzf ${copy} -C /tmp && "$MONGORESTORE" --uri="$TEST_MONGODB_AUTH_URI" --noIndexRestore \\`,
    `      --nsFrom '${resources.database}.$c$' --nsTo '${resources.database}_guide.$c$' /tmp/${folder}/`,
    "      # --noIndexRestore only because FerretDB refuses the index option mongorestore sends",
    `  aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$AWS_REGION" cloudwatch list-metrics --namespace ${namespace}`,
    `  node -e 'const c=require("@aws-sdk/client-cloudwatch");new c.CloudWatchClient({}).send(new c.ListMetricsCommand({Namespace:"${namespace}"})).then(r=>r.Metrics.forEach(m=>console.log(m.MetricName,m.Dimensions.map(d=>d.Name+"="+d.Value).join(" "))))'`,
    "",
    "Stop the services with `npm run services -- down`.",
  ];
}
