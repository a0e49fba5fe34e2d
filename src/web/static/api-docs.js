// The Open API docs page: Swagger UI on the app's own schema. "Try it out" requests are signed here, in the
// browser, as a reseller's system signs them (DESIGN.md §4), with the key id and secret typed into the page —
// kept in this page only, never stored or sent anywhere but in the signature. Served as a file: the CSP allows
// no inline script.
(function () {
  "use strict";

  var encoder = new TextEncoder();

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  async function hmacHex(secret, text) {
    var key = await crypto.subtle.importKey(
      "raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]
    );
    return hex(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
  }

  function newNonce() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return hex(bytes);
  }

  // {timestamp}\n{nonce}\n{METHOD}\n{path_with_query}\n{sha256_hex(body)}, HMAC-SHA256 with the secret.
  async function sign(request) {
    var keyId = document.getElementById("api-key-id").value.trim();
    var secret = document.getElementById("api-secret").value.trim();
    var url = new URL(request.url, window.location.href);
    if (!keyId || !secret || url.origin !== window.location.origin || !url.pathname.startsWith("/api/v1/")) {
      return request;
    }
    var body = typeof request.body === "string" ? request.body : "";
    var timestamp = String(Math.floor(Date.now() / 1000));
    var nonce = newNonce();
    var bodyHash = hex(await crypto.subtle.digest("SHA-256", encoder.encode(body)));
    var text = [timestamp, nonce, request.method.toUpperCase(), url.pathname + url.search, bodyHash].join("\n");
    request.headers["X-Api-Key"] = keyId;
    request.headers["X-Timestamp"] = timestamp;
    request.headers["X-Nonce"] = nonce;
    request.headers["X-Signature"] = await hmacHex(secret, text);
    return request;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("swagger-ui");
    var signing = window.crypto && window.crypto.subtle;  // only in a secure context (https, or this machine)
    if (!signing) {
      document.getElementById("api-signing-unavailable").hidden = false;
    }
    window.SwaggerUIBundle({
      url: root.getAttribute("data-spec-url"),
      domNode: root,
      deepLinking: true,
      validatorUrl: null,
      defaultModelsExpandDepth: 0,
      requestInterceptor: signing ? sign : undefined,
    });
  });
})();
