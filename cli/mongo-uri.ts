import { MongoClient } from "mongodb";
import { usage } from "./exit-codes";
import { parseMongoUri } from "../lambdas/core/mongo/uri";

/**
 * A connection string checked before any work starts, by our parser and the driver's (constructing a client
 * parses the URI without opening a connection): a malformed one is bad usage, exit 2, for every command.
 * The message says what is wrong without quoting the value: a malformed URI is exactly the one a redactor
 * may not recognise, so its credentials are never echoed.
 */
export function checkedMongoUri(uri: string, option: string): string {
  return usage(() => {
    if (!/^mongodb(\+srv)?:\/\//i.test(uri.trim())) {
      throw new Error(`${option}: not a MongoDB connection string: ${describeScheme(uri)}`);
    }
    try {
      parseMongoUri(uri);
      void new MongoClient(uri);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const safe = secretsOf(uri).every((secret) => !reason.includes(secret));
      throw new Error(
        `${option}: ${safe ? reason : "the driver cannot parse it (details withheld: they hold a credential)"}`,
      );
    }
    return uri;
  });
}

/** Names the scheme only when it looks like one; anything else might be part of a password. */
function describeScheme(uri: string): string {
  const scheme = /^\s*([a-z][a-z0-9+.-]{0,19}):\/\//i.exec(uri)?.[1];
  const found = scheme ? `it starts with ${scheme}://` : "it has no scheme";
  return `${found}, expected mongodb:// or mongodb+srv://`;
}

/** The parts of a URI that may hold a credential: the user info, its password, option values named like secrets. */
function secretsOf(uri: string): string[] {
  const afterScheme = uri.slice(uri.indexOf("://") + 3);
  const query = afterScheme.includes("?") ? afterScheme.slice(afterScheme.indexOf("?") + 1) : "";
  const beforeQuery = afterScheme.slice(0, afterScheme.length - (query ? query.length + 1 : 0));
  const at = beforeQuery.lastIndexOf("@");
  const userInfo = at >= 0 ? beforeQuery.slice(0, at) : "";
  const password = userInfo.includes(":") ? userInfo.slice(userInfo.indexOf(":") + 1) : "";
  const optionValues = query
    .split("&")
    .map((pair) => pair.split("="))
    .filter(([name]) => /pass|secret|token|key|credential|properties/i.test(name ?? ""))
    .map(([, ...value]) => value.join("="));
  return [userInfo, password, ...optionValues]
    .flatMap((secret) => [secret, safeDecode(secret)])
    .filter((secret) => secret.length > 0);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
