/* The tablet's walkthrough form: every record is kept in localStorage first, then synced (POST /console/sync, the
   same schema and service as POST /api/v1/sync) whenever the tablet is online. Each record shows its outcome; a
   rejected record stays here, editable, until a corrected version is accepted. */
(function () {
  "use strict";
  var STORE = "hf_walkthroughs";
  var form = document.getElementById("walk-form");
  if (!form) return;
  var list = document.getElementById("records");
  var state = document.getElementById("sync-state");
  var alertBox = document.getElementById("walk-alert");
  var LABELS = { pending: "待同步", created: "已同步", updated: "已同步（已更新）", unchanged: "已同步（无变化）",
                 rejected: "被拒绝：请修改后重新保存" };

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE) || "[]"); } catch (e) { return []; }
  }
  function save(entries) { localStorage.setItem(STORE, JSON.stringify(entries)); }

  function uuid() {
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // By name through querySelector: form.elements.item is a method of the collection, not the "item" field.
  function field(name) { return form.querySelector('[name="' + name + '"]'); }
  function value(name) { return field(name).value.trim(); }

  function recordFromForm(previous) {
    var record = {
      id: value("id") || uuid(), hall: value("hall"), item: value("item"), mode: value("mode"),
      observer: { name: value("observer_name") }, started_at: new Date(value("started_at")).toISOString(),
      status: form.elements.submit_now.checked ? "submitted" : "draft", findings: []
    };
    if (value("observer_title")) record.observer.title = value("observer_title");
    if (value("summary")) record.summary = value("summary");
    if (value("description")) {
      var old = previous && previous.findings[0];
      record.findings.push({ id: old ? old.id : uuid(), step: value("step"), category: value("category"),
                             severity: value("severity"), description: value("description"),
                             needs_rectification: form.elements.needs_rectification.checked });
    }
    return record;
  }

  function fill(record) {
    form.elements.id.value = record.id;
    ["hall", "item", "mode", "summary"].forEach(function (k) { field(k).value = record[k] || ""; });
    form.elements.observer_name.value = record.observer.name;
    form.elements.observer_title.value = record.observer.title || "";
    var d = new Date(record.started_at);
    form.elements.started_at.value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    var f = record.findings[0];
    ["step", "category", "severity", "description"].forEach(function (k) { field(k).value = f ? f[k] : ""; });
    form.elements.needs_rectification.checked = f ? f.needs_rectification : true;
    form.elements.submit_now.checked = record.status === "submitted";
    form.elements.observer_name.focus();
  }

  function flatten(errors) {
    if (!errors) return "";
    if (Array.isArray(errors)) return errors.join("；");
    if (typeof errors === "object") {
      return Object.keys(errors).map(function (k) { return k + "：" + flatten(errors[k]); }).join("；");
    }
    return String(errors);
  }

  function render() {
    list.textContent = "";
    load().forEach(function (entry) {
      var li = document.createElement("li");
      li.setAttribute("data-id", entry.record.id);
      var title = document.createElement("strong");
      title.textContent = entry.record.hall + " · " + entry.record.observer.name + " · " +
        entry.record.started_at.slice(0, 16).replace("T", " ");
      var outcome = document.createElement("p");
      outcome.className = "outcome outcome-" + entry.outcome;
      outcome.textContent = LABELS[entry.outcome] + (entry.errors ? "（" + flatten(entry.errors) + "）" : "");
      li.appendChild(title);
      li.appendChild(outcome);
      if (entry.outcome === "rejected" || entry.outcome === "pending") {
        var edit = document.createElement("button");
        edit.type = "button";
        edit.textContent = "修改";
        edit.addEventListener("click", function () { fill(entry.record); });
        li.appendChild(edit);
      }
      list.appendChild(li);
    });
  }

  var syncing = false;
  function sync() {
    var entries = load();
    var pending = entries.filter(function (e) { return e.outcome === "pending"; });
    if (syncing || !pending.length) return;
    if (!navigator.onLine) { state.textContent = "当前离线，联网后自动同步"; return; }
    syncing = true;
    state.textContent = "正在同步…";
    fetch(form.dataset.sync, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf },
      body: JSON.stringify({ walkthroughs: pending.map(function (e) { return e.record; }) })
    }).then(function (response) {
      if (response.status === 401 || response.status === 403) throw new Error("登录已过期，请重新登录后同步（记录仍保存在本机）");
      return response.json().then(function (json) {
        if (!response.ok) throw new Error(json.detail || "同步失败，请稍后再试");
        return json;
      });
    }).then(function (json) {
      var latest = load();
      json.results.forEach(function (result, i) {
        var sent = pending[i].record;
        latest.forEach(function (e) {
          // Only the version that was sent: an edit saved meanwhile stays pending.
          if (e.record.id === sent.id && JSON.stringify(e.record) === JSON.stringify(sent)) {
            e.outcome = result.outcome;
            e.errors = result.errors || null;
          }
        });
      });
      save(latest);
      state.textContent = "同步完成";
      render();
    }).catch(function (error) {
      state.textContent = error.message.indexOf("登录") >= 0 ? error.message : "网络中断，联网后自动重试（记录仍保存在本机）";
    }).then(function () { syncing = false; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!form.reportValidity()) return;
    var entries = load();
    var id = value("id");
    var previous = null;
    entries = entries.filter(function (e) {
      if (e.record.id === id) { previous = e.record; return false; }
      return true;
    });
    var record = recordFromForm(previous);
    entries.unshift({ record: record, outcome: "pending", errors: null });
    save(entries);
    form.reset();
    form.elements.id.value = "";
    alertBox.textContent = "";
    state.textContent = "已保存到本机";
    render();
    sync();
  });

  document.getElementById("sync-now").addEventListener("click", sync);
  window.addEventListener("online", sync);
  render();
  sync();
}());
