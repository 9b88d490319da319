/* The walkthrough form's service worker (scope: the form's folder). It keeps the form page and this release's assets
   so that the form opens on a tablet that is offline, after one visit online. The page is fetched from the network
   first (it carries the session's CSRF token and the signed-in name) and the kept copy is used only when the
   network fails; a page answered "not signed in" drops the kept copy. Nothing else passes through it. */
"use strict";
var CACHE = {{ cache|tojson }};
var PAGE = {{ page|tojson }};
var ASSETS = {{ assets|tojson }};

function keepPage(response) {
  if (response.ok && !response.redirected) {
    var copy = response.clone();
    caches.open(CACHE).then(function (cache) { return cache.put(PAGE, copy); });
  } else if (response.status === 401 || response.status === 403) {
    caches.open(CACHE).then(function (cache) { return cache.delete(PAGE); });
  }
  return response;
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(ASSETS).then(function () {
      return fetch(PAGE, { credentials: "same-origin" }).then(keepPage, function () { return null; });
    });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (key) { return key.indexOf("hf-walk-") === 0 && key !== CACHE; })
      .map(function (key) { return caches.delete(key); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(fetch(request).then(function (response) {
      return url.search ? response : keepPage(response);
    }, function () {
      return caches.match(PAGE).then(function (kept) { return kept || Response.error(); });
    }));
  } else if (ASSETS.indexOf(url.pathname + url.search) >= 0) {
    event.respondWith(caches.match(request).then(function (kept) { return kept || fetch(request); }));
  }
});
