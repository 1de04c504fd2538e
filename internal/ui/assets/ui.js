// Polls /ui/live and redraws the Domo budget chart and the live figures. No framework, no
// build step; the page works without it, only less alive.
(function () {
  "use strict";
  var chart = document.getElementById("budget-chart");
  if (!chart) { return; }
  var W = +chart.getAttribute("width"), H = +chart.getAttribute("height");

  function setText(id, v) {
    var el = document.getElementById(id);
    if (el) { el.textContent = v; }
  }
  function fmt(v) { return Number.isInteger(v) ? String(v) : v.toFixed(2); }

  function draw(d) {
    var pts = d.points || [], top = d.limit || 0, i;
    for (i = 0; i < pts.length; i++) { top = Math.max(top, pts[i].perMinute); }
    if (top <= 0) { top = 1; }
    top *= 1.1;
    var limitY = (H - (d.limit / top) * H).toFixed(1);
    var lim = document.getElementById("budget-limit-line");
    lim.setAttribute("y1", limitY);
    lim.setAttribute("y2", limitY);
    var line = document.getElementById("budget-line");
    if (pts.length < 2) { line.setAttribute("points", ""); return; }
    var t0 = pts[0].t, span = Math.max(pts[pts.length - 1].t - t0, 1), out = [];
    for (i = 0; i < pts.length; i++) {
      out.push(((pts[i].t - t0) / span * W).toFixed(1) + "," + (H - pts[i].perMinute / top * H).toFixed(1));
    }
    line.setAttribute("points", out.join(" "));
    setText("chart-note", "Last hour, sampled every few seconds; updates live.");
  }

  function poll() {
    fetch("/ui/live", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (r.status === 401) { window.location.reload(); } return r.json(); })
      .then(function (d) {
        setText("last-minute", fmt(d.domoLastMinute));
        setText("domo-requests", fmt(d.domoRequests));
        setText("index-users", fmt(d.indexUsers));
        setText("index-groups", fmt(d.indexGroups));
        setText("idp-requests", fmt(d.idpRequests));
        draw(d);
        chart.setAttribute("data-updated", d.at);
      })
      .catch(function () { /* the next poll tries again */ });
  }
  poll();
  window.setInterval(poll, 5000);
})();
