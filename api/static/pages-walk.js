/* The tablet's walkthrough form: findings are added and removed here, each under a step of the procedure; every
   record is kept in localStorage first, then synced (POST /console/sync, the same schema and service as
   POST /api/v1/sync) whenever the tablet is online. Each record shows its outcome; a rejected record stays here,
   editable, until a corrected version is accepted. A service worker keeps the page so that it opens offline.
   Field names are the record's field paths joined by "-", so a rejection's errors find their fields. */
(function () {
  "use strict";
  var STORE = "hf_walkthroughs";
  var form = document.getElementById("walk-form");
  if (!form || !window.localStorage || !window.fetch) return;  // the plain form posts to the server instead
  var box = document.getElementById("findings");
  var template = document.getElementById("finding-template");
  var list = document.getElementById("records");
  var state = document.getElementById("sync-state");
  var alertBox = document.getElementById("walk-alert");
  var labels = JSON.parse(form.dataset.labels);
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

  function field(name, scope) { return (scope || form).querySelector('[name="' + name + '"]'); }
  function value(name) { return field(name).value.trim(); }
  function rows() { return Array.prototype.slice.call(box.querySelectorAll("[data-finding]")); }
  function part(row, key) { return row.querySelector('[name$="-' + key + '"]'); }
  function localNow(d) {
    d = d || new Date();
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  }

  // Rows are numbered in order: names, ids, labels and error slots follow (findings-0-…, findings-1-…).
  function renumber() {
    rows().forEach(function (row, i) {
      row.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (a) {
          var v = el.getAttribute(a);
          if (v) el.setAttribute(a, v.replace(/findings-[^-]+-/, "findings-" + i + "-"));
        });
      });
      row.querySelector("[data-n]").textContent = i + 1;
      row.querySelector(".remove-finding").value = i;
      row.querySelector(".remove-finding").textContent = "删除问题 " + (i + 1);
    });
  }

  function addRow(finding) {
    var last = rows().pop();
    var row = template.content.firstElementChild.cloneNode(true);
    box.appendChild(row);
    part(row, "id").value = finding ? finding.id : uuid();
    // A walkthrough follows the procedure: a new finding starts at the step of the one before.
    part(row, "step").value = finding ? finding.step : last ? part(last, "step").value : part(row, "step").value;
    if (finding) {
      ["category", "severity", "description"].forEach(function (k) { part(row, k).value = finding[k]; });
      part(row, "needs_rectification").checked = finding.needs_rectification;
    }
    renumber();
    return row;
  }

  function clearRows() { rows().forEach(function (row) { row.remove(); }); }

  function recordFromForm() {
    var record = {
      id: value("id"), hall: value("hall"), item: value("item"), mode: value("mode"),
      observer: { name: value("observer-name") }, started_at: new Date(value("started_at")).toISOString(),
      status: field("submit_now").checked ? "submitted" : "draft", findings: []
    };
    if (value("observer-title")) record.observer.title = value("observer-title");
    if (value("ended_at")) record.ended_at = new Date(value("ended_at")).toISOString();
    if (value("summary")) record.summary = value("summary");
    rows().forEach(function (row) {
      if (!part(row, "description").value.trim()) return;  // a row left empty is not a finding
      record.findings.push({ id: part(row, "id").value, step: part(row, "step").value,
                             category: part(row, "category").value, severity: part(row, "severity").value,
                             description: part(row, "description").value.trim(),
                             needs_rectification: part(row, "needs_rectification").checked });
    });
    return record;
  }

  // A fresh record: new ids (the page may be a kept copy, whose ids were used already), the time now, one row.
  function fresh() {
    form.reset();
    field("id").value = uuid();
    field("started_at").value = localNow();
    clearRows();
    addRow();
    showErrors(null);
  }

  function fill(entry) {
    var record = entry.record;
    field("id").value = record.id;
    ["hall", "item", "mode", "summary"].forEach(function (k) { field(k).value = record[k] || ""; });
    field("observer-name").value = record.observer.name;
    field("observer-title").value = record.observer.title || "";
    field("started_at").value = localNow(new Date(record.started_at));
    field("ended_at").value = record.ended_at ? localNow(new Date(record.ended_at)) : "";
    field("submit_now").checked = record.status === "submitted";
    clearRows();
    record.findings.forEach(function (f) { addRow(f); });
    if (!record.findings.length) addRow();
    showErrors(entry.errors);
    field("observer-name").focus();
  }

  // Errors of a rejected record, as [path, message] pairs; the path names the form field.
  function leaves(errors, path, out) {
    if (Array.isArray(errors) && errors.every(function (e) { return typeof e === "string"; })) {
      out.push([path, errors.join("；")]);
    } else if (errors && typeof errors === "object") {
      Object.keys(errors).forEach(function (k) { leaves(errors[k], path.concat(k), out); });
    } else if (errors) {
      out.push([path, String(errors)]);
    }
    return out;
  }
  function describe(path, message) {
    var words = [];
    path.forEach(function (k) {
      if (/^\d+$/.test(k)) words[words.length - 1] = "第 " + (+k + 1) + " 个问题";
      else if (labels[k]) words.push(labels[k]);
    });
    return (words.length ? words.join("·") + "：" : "") + message;
  }

  function showErrors(errors) {
    form.querySelectorAll(".field-error").forEach(function (p) { p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    var rest = [];
    leaves(errors, [], []).forEach(function (pair) {
      var name = pair[0].join("-");
      var slot = document.getElementById("err-" + name);
      if (slot && field(name)) {
        slot.textContent = pair[1];
        field(name).setAttribute("aria-invalid", "true");
      } else {
        rest.push(describe(pair[0], pair[1]));
      }
    });
    alertBox.textContent = errors ? "该记录被拒绝，请按提示修改后重新保存。" + rest.join("；") : "";
  }

  function bySteps(findings) {
    var counts = {}, order = [];
    var names = {};
    part(template.content, "step").querySelectorAll("option").forEach(function (o) { names[o.value] = o.textContent; });
    findings.forEach(function (f) {
      if (!counts[f.step]) { counts[f.step] = 0; order.push(f.step); }
      counts[f.step] += 1;
    });
    if (!order.length) return "未发现问题";
    return "发现问题 " + findings.length + " 个：" + order.map(function (s) { return (names[s] || s) + " " + counts[s]; }).join("、");
  }

  function render() {
    var entries = load();
    document.getElementById("records-section").hidden = !entries.length;
    list.textContent = "";
    entries.forEach(function (entry) {
      var li = document.createElement("li");
      li.setAttribute("data-id", entry.record.id);
      var title = document.createElement("strong");
      title.textContent = entry.record.hall + " · " + entry.record.observer.name + " · " +
        localNow(new Date(entry.record.started_at)).replace("T", " ") +
        (entry.record.status === "draft" ? "（草稿）" : "");
      var steps = document.createElement("p");
      steps.className = "meta";
      steps.textContent = bySteps(entry.record.findings);
      var outcome = document.createElement("p");
      outcome.className = "outcome outcome-" + entry.outcome;
      outcome.textContent = LABELS[entry.outcome];
      li.appendChild(title);
      li.appendChild(steps);
      li.appendChild(outcome);
      if (entry.errors) {
        var why = document.createElement("p");
        why.className = "field-error";
        why.textContent = leaves(entry.errors, [], []).map(function (p) { return describe(p[0], p[1]); }).join("；");
        li.appendChild(why);
      }
      if (entry.outcome === "rejected" || entry.outcome === "pending" || entry.record.status === "draft") {
        var edit = document.createElement("button");
        edit.type = "button";
        edit.textContent = entry.outcome === "rejected" ? "修改后重新保存" : "修改";
        edit.addEventListener("click", function () { fill(entry); });
        li.appendChild(edit);
      }
      list.appendChild(li);
    });
  }

  var syncing = false;
  function sync() {
    var pending = load().filter(function (e) { return e.outcome === "pending"; });
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
        var sent = JSON.stringify(pending[i].record);
        latest.forEach(function (e) {
          // Only the version that was sent: an edit saved meanwhile stays pending.
          if (e.record.id === pending[i].record.id && JSON.stringify(e.record) === sent) {
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

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    if (button.id === "add-finding") {
      event.preventDefault();
      part(addRow(), "description").focus();
    } else if (button.classList.contains("remove-finding")) {
      event.preventDefault();
      button.closest("[data-finding]").remove();
      if (!rows().length) addRow();
      renumber();
      document.getElementById("add-finding").focus();
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!form.reportValidity()) return;
    var record = recordFromForm();
    var entries = load().filter(function (e) { return e.record.id !== record.id; });
    entries.unshift({ record: record, outcome: "pending", errors: null });
    save(entries);
    fresh();
    state.textContent = "已保存到本机";
    render();
    sync();
  });

  document.getElementById("save-record").textContent = "保存到本机";
  document.getElementById("sync-now").addEventListener("click", sync);
  window.addEventListener("online", sync);
  window.addEventListener("offline", function () { state.textContent = "当前离线，记录会保存在本机"; });
  if (navigator.serviceWorker && form.dataset.sw) navigator.serviceWorker.register(form.dataset.sw).catch(function () {});
  fresh();
  render();
  sync();
}());
