/* Starts Swagger UI on the gateway's OpenAPI document (the page at /api/v1/docs).
 *
 * A file rather than an inline script, so the page's Content-Security-Policy allows scripts from
 * this origin only. No validator badge (it would call another host), no top bar (it loads any URL).
 */
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    persistAuthorization: false
  });
});
