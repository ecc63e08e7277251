/**
 * Credentials, one shape for both directions: what the `/metrics` server asks of scrapers, and
 * what Pushgateway pushes and remote writes send.
 *
 * @module
 */

/**
 * HTTP basic authentication: the user name and password a scraper must send to the server, or
 * that a push or remote write sends.
 */
export interface BasicAuth {
  /** The user name (the server requires one without `:`). */
  readonly username: string;
  /** The password. */
  readonly password: string;
}

/** Bearer token authentication: `Authorization: Bearer <token>`. */
export interface BearerAuth {
  /** The token. */
  readonly bearerToken: string;
}

/** Credentials: HTTP basic auth or a bearer token. */
export type Auth = BasicAuth | BearerAuth;

/** The `Authorization` header value of `auth`; a `TypeError` naming `url` for a bad shape. */
export function authorizationHeader(auth: Auth, url: string): string {
  if (auth !== null && typeof auth === "object") {
    if ("bearerToken" in auth && typeof auth.bearerToken === "string") {
      return `Bearer ${auth.bearerToken}`;
    }
    if (
      "username" in auth && typeof auth.username === "string" &&
      typeof auth.password === "string"
    ) {
      return `Basic ${base64Of(`${auth.username}:${auth.password}`)}`;
    }
  }
  throw new TypeError(
    `auth for ${url} must be { username, password } or { bearerToken }, each a string`,
  );
}

/** Standard base64 of the UTF-8 bytes of `text`. */
export function base64Of(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
