/*! Affilia tracking snippet. Keeps the referral (?ref= and ?aff_sess=, or the link
 * parameters of the tools vendors move from: ?via= Rewardful/Tolt, ?fpr= / ?fp_ref=
 * FirstPromoter, ?aff= Tolt/Lemon Squeezy, ?gspk= PartnerStack, base64) in a first-party
 * cookie and exposes Affilia.getReferral() -> {code, aff_sess} | null.
 * <script src="https://affiliates.example.com/t.js" data-cookie-days="30" async></script>
 * Optional: data-cookie-domain=".example.com" to share the cookie across subdomains. */
(function (w, d) {
  "use strict";
  var NAME = "affilia_ref";
  var CODE = /^[A-Za-z0-9_-]{3,40}$/;
  var SESS = /^clk_[0-9a-z]{26}$/;
  var s = d.currentScript;
  var attr = function (n) { return (s && s.getAttribute(n)) || ""; };
  var days = parseInt(attr("data-cookie-days") || "30", 10);
  if (!(days >= 1 && days <= 730)) days = 30;
  var domain = attr("data-cookie-domain");
  var api = s && s.src ? s.src.replace(/\/t\.js(\?.*)?$/, "/api/v1/track") : "";

  function read() {
    var m = d.cookie.match(new RegExp("(?:^|; )" + NAME + "=([^;]*)"));
    if (!m) return null;
    try {
      var v = JSON.parse(decodeURIComponent(m[1]));
      if (!v || !CODE.test(v.code)) return null;
      return { code: v.code, aff_sess: SESS.test(v.aff_sess) ? v.aff_sess : null };
    } catch (e) {
      return null;
    }
  }

  function write(code, sess) {
    d.cookie = NAME + "=" + encodeURIComponent(JSON.stringify({ code: code, aff_sess: sess })) +
      "; Max-Age=" + days * 86400 + "; Path=/; SameSite=Lax" +
      (domain ? "; Domain=" + domain : "") +
      (w.location.protocol === "https:" ? "; Secure" : "");
  }

  var ready;
  var q = new URLSearchParams(w.location.search);
  // The first of these parameters present names the code (src/domain/attribution/
  // tracking/params.rs reads the same list for /r/).
  var PARAMS = ["ref", "via", "aff", "fpr", "fp_ref", "gspk"];
  var code = null;
  for (var i = 0; i < PARAMS.length && !code; i++) {
    var v = q.get(PARAMS[i]);
    if (v && PARAMS[i] === "gspk") {
      try { v = atob(v.replace(/-/g, "+").replace(/_/g, "/")); } catch (e) { v = null; }
    }
    code = v || null;
  }
  var sess = q.get("aff_sess");
  if (code && CODE.test(code)) {
    code = code.toLowerCase();
    if (sess && SESS.test(sess)) {
      write(code, sess);
    } else {
      // Landed with ?ref= but not through /r/: keep the code now, record the click, then
      // keep its id. text/plain keeps this a "simple" cross-origin request (no preflight).
      write(code, null);
      if (api && w.fetch) {
        ready = w.fetch(api, {
          method: "POST",
          headers: { "Content-Type": "text/plain" },
          body: JSON.stringify({ code: code, url: w.location.href, referrer: d.referrer || null }),
          credentials: "omit",
          keepalive: true
        }).then(function (r) { return r.ok ? r.json() : null; })
          .then(function (b) { if (b && b.click_id) write(code, b.click_id); })
          .catch(function () {})
          .then(read);
      }
    }
  }

  w.Affilia = {
    /** The visitor's referral, or null: {code, aff_sess}. */
    getReferral: read,
    /** Resolves to getReferral() once a pending click report has finished. */
    ready: function () { return ready || Promise.resolve(read()); }
  };
})(window, document);
