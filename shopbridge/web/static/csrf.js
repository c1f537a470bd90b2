// Sends the page's CSRF token (from <meta name="csrf-token">) with every htmx request.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
});
// Shows <time datetime="..."> in the viewer's timezone, on load and in every htmx swap.
function localTimes(root) {
  root.querySelectorAll("time[datetime]").forEach(function (el) {
    if (el.dataset.local) { return; }
    var d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d)) {
      el.textContent = d.toLocaleString();
      el.title = el.getAttribute("datetime");
      el.dataset.local = "1";
    }
  });
}
localTimes(document);
document.addEventListener("htmx:afterSettle", function (event) { localTimes(event.target); });
