// The API reference page (/api/docs): renders /api/openapi.json with the
// vendored Swagger UI. Requests made with "Try it out" from a signed-in
// browser carry the session cookie, so they also carry the session's CSRF
// token, as every API request of the web UI's scripts does.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  const csrf = document.querySelector('meta[name="csrf-token"]');
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    requestInterceptor: (request) => {
      if (csrf && !request.headers["X-CSRF-Token"]) {
        request.headers["X-CSRF-Token"] = csrf.content;
      }
      return request;
    },
  });
});
