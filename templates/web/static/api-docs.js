// Swagger UI for /api/v1/docs, started from this file because the CSP allows no inline script.
// It reads the OpenAPI document from this site only, and asks no outside validator about it.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
  });
})();
