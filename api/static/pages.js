/* Pages' only script, and optional: every page works without it. It keeps the 大字版 choice (localStorage and a
   cookie the server reads) and sends the rating form to POST /api/v1/ratings with the page's idempotency key. */
(function () {
  "use strict";
  var KEY = "hf_large";
  var root = document.documentElement;

  function setCookie(on) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = KEY + "=" + (on ? "1" : "0") + "; Max-Age=31536000; Path=/; SameSite=Lax" + secure;
  }

  function applyLarge(on) {
    root.classList.toggle("large", on);
    var link = document.getElementById("size-switch");
    if (link) {
      link.textContent = on ? "标准字号" : "大字版";
      link.setAttribute("data-large", on ? "1" : "0");
    }
  }

  function storedLarge() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }

  // A choice made on another page (or before the cookie was set) wins over the server's default.
  var stored = storedLarge();
  if (stored === "1" || stored === "0") {
    if ((stored === "1") !== root.classList.contains("large")) applyLarge(stored === "1");
    setCookie(stored === "1");
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("#size-switch");
    if (!link) return;
    event.preventDefault();
    var on = !root.classList.contains("large");
    applyLarge(on);
    try { localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* private mode: the cookie still keeps it */ }
    setCookie(on);
  });

  // Signed out, or the session ended: the walkthrough form's offline copy (it shows the name) goes too.
  if (document.querySelector("[data-forget-offline]") && window.caches) {
    caches.keys().then(function (keys) {
      keys.forEach(function (key) { if (key.indexOf("hf-walk-") === 0) caches.delete(key); });
    });
  }

  var form = document.getElementById("rate-form");
  if (!form || !window.fetch) return;
  var alertBox = document.getElementById("form-alert");
  var button = document.getElementById("submit-rating");

  function fits(applies, score) {
    // 基本满意 (3) may carry either kind; 差评 (1–2) only the bad tags, 满意 (4–5) only the good ones.
    return applies === "any" || (applies === "bad" && score <= 3) || (applies === "good" && score >= 3);
  }

  function chosenScore() {
    var checked = form.querySelector("input[name=score]:checked");
    return checked ? parseInt(checked.value, 10) : null;
  }

  form.addEventListener("change", function (event) {
    if (event.target.name !== "score") return;
    var score = chosenScore();
    form.querySelectorAll("input[name=tags]").forEach(function (box) {
      if (!fits(box.getAttribute("data-applies"), score)) box.checked = false;
    });
  });

  function showErrors(errors, detail) {
    form.querySelectorAll("[data-error-for]").forEach(function (p) { p.textContent = ""; });
    Object.keys(errors || {}).forEach(function (field) {
      var p = form.querySelector('[data-error-for="' + field + '"]');
      var value = errors[field];
      if (p) p.textContent = Array.isArray(value) ? value.join("；") : JSON.stringify(value);
    });
    alertBox.textContent = detail || "";
    if (detail) alertBox.focus();
  }

  function body() {
    var score = chosenScore();
    var data = { score: score, channel: "qrcode" };
    if (form.dataset.token) {
      data.rating_token = form.dataset.token;
    } else {
      data.hall = form.dataset.hall;
      data.window = form.dataset.window;
      var item = form.querySelector("select[name=item]");
      if (item && item.value) data.item = item.value;
    }
    var tags = [];
    form.querySelectorAll("input[name=tags]:checked").forEach(function (box) {
      if (fits(box.getAttribute("data-applies"), score)) tags.push(box.value);
    });
    if (tags.length) data.tags = tags;
    var comment = form.querySelector("textarea[name=comment]").value.trim();
    if (comment) data.comment = comment;
    var contact = form.querySelector("input[name=contact]");
    if (score !== null && score <= 2 && contact && contact.checked) {
      data.anonymous = false;
      var name = form.querySelector("input[name=name]").value.trim();
      var phone = form.querySelector("input[name=phone]").value.trim();
      if (name) data.name = name;
      if (phone) data.phone = phone;
    }
    return data;
  }

  var sending = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) return; // a double tap: the first request is on its way (and the key makes a retry harmless)
    if (chosenScore() === null) {
      showErrors({ score: ["请选择您的满意程度"] }, "请选择您的满意程度");
      return;
    }
    sending = true;
    button.disabled = true;
    button.textContent = "正在提交…";
    fetch(form.dataset.api, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": form.elements.key.value },
      body: JSON.stringify(body()),
      credentials: "omit"
    }).then(function (response) {
      return response.json().then(function (json) { return { status: response.status, json: json }; });
    }).then(function (answer) {
      if (answer.status === 201) {
        location.assign("/my/" + answer.json.id + "?receipt=" + encodeURIComponent(answer.json.receipt) + "&new=1");
        return;
      }
      var code = answer.json && answer.json.code;
      if (code === "already_rated" || code === "rating_window_closed" || code === "invalid_rating_token") {
        location.reload(); // the page then says plainly why this case cannot be rated
        return;
      }
      showErrors(answer.json.errors, answer.json.detail || "提交未成功，请稍后再试");
      done();
    }).catch(function () {
      showErrors({}, "网络不稳定，提交未成功。请再点一次“提交评价”，不会重复评价。");
      done();
    });
  });

  function done() {
    sending = false;
    button.disabled = false;
    button.textContent = "提交评价";
  }
}());
