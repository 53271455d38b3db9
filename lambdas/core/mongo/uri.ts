/** Parsing and redaction of MongoDB connection strings. A URI's password never reaches a log or an error. */

const CREDENTIALS_IN_URI = /(mongodb(?:\+srv)?:\/\/)([^@/\s]+)@/gi;

/** Replaces the credentials of every MongoDB URI in a text by `user:***`. */
export function redactSecrets(text: string): string {
  return text.replace(CREDENTIALS_IN_URI, (_match, scheme: string, userInfo: string) => {
    const user = userInfo.split(":")[0] ?? "";
    return `${scheme}${user}:***@`;
  });
}

export interface ParsedMongoUri {
  scheme: "mongodb" | "mongodb+srv";
  username?: string;
  /** host:port list as written (lower-cased), in order. */
  hosts: string[];
  /** The database in the path, if any. */
  database?: string;
  options: URLSearchParams;
}

/** Parses a MongoDB connection string; the error names what is wrong but never echoes the password. */
export function parseMongoUri(uri: string): ParsedMongoUri {
  const match = /^(mongodb(?:\+srv)?):\/\/(?:([^@/]*)@)?([^/?]+)(?:\/([^?]*))?(?:\?(.*))?$/i.exec(uri.trim());
  if (!match) {
    throw new Error(
      `not a MongoDB connection string: ${redactSecrets(uri)} (expected mongodb:// or mongodb+srv://)`,
    );
  }
  const [, scheme, userInfo, hostList, database, query] = match;
  const username = userInfo ? decodeURIComponent(userInfo.split(":")[0] ?? "") : undefined;
  return {
    scheme: scheme!.toLowerCase() as ParsedMongoUri["scheme"],
    username: username || undefined,
    hosts: hostList!.split(",").map((host) => host.trim().toLowerCase()),
    database: database ? decodeURIComponent(database) : undefined,
    options: new URLSearchParams(query ?? ""),
  };
}
