// Starts Swagger UI on the API's schema (a file, not an inline script: the portal's
// Content Security Policy allows only its own script files).
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // No calls to an outside validator: the page talks to the portal only.
    validatorUrl: null,
  });
});
