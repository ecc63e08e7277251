/**
 * The short plain-text answers of the endpoint and the server, and the check of a request's
 * URL and `Host` header they share.
 *
 * @module
 */

/** Characters allowed in a `Host` header: a host name or IPv4 address, or `[IPv6]`, and a port. */
const VALID_HOST = /^(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/;

/** A short plain-text answer of the endpoint (errors, 405), with its length; no body for HEAD. */
export function plainText(
  status: number,
  text: string,
  method: string,
  headers: Record<string, string> = {},
): Response {
  const body = new TextEncoder().encode(text + "\n");
  return new Response(method === "HEAD" ? null : body, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(body.byteLength),
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/** A short plain-text answer of the server's own paths (health check, 401, 404). */
export function textResponse(
  status: number,
  text: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(text + "\n", {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/**
 * The URL of a request, or `undefined` when it cannot be trusted: a `Host` header with spaces
 * or slashes (which would make URL parsing throw, or move the path) or a URL that does not
 * parse. Such a request gets 400 and is not logged: it is the client's mistake.
 */
export function requestUrl(request: Request): URL | undefined {
  const host = request.headers.get("host");
  if (host !== null && host !== "" && !VALID_HOST.test(host)) return undefined;
  try {
    return new URL(request.url);
  } catch {
    return undefined;
  }
}

/** The 400 answer to a request whose `Host` header or URL is malformed. */
export function badRequest(method: string): Response {
  return plainText(400, "bad request: malformed Host header or URL", method);
}
