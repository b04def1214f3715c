// The admin page of deployd: nodes, runners, recent jobs with live logs, apps.
// The admin token is typed in and kept in sessionStorage only; every value from the
// API is put into the page as text, never as markup.
"use strict";

const KEY = "funai.adminToken";
const $ = (id) => document.getElementById(id);
let followed = null;

function token() { return sessionStorage.getItem(KEY) || ""; }

async function api(method, path) {
  const r = await fetch(path, { method, headers: { "X-Admin-Token": token() } });
  let body = null;
  try { body = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok || !body || body.code !== 200) {
    const msg = body && body.message ? body.message : r.status + " " + r.statusText;
    const e = new Error(msg);
    e.status = r.status;
    throw e;
  }
  return body.data;
}

function showError(e) {
  const el = $("error");
  if (!e) { el.hidden = true; el.textContent = ""; return; }
  el.hidden = false;
  el.textContent = String(e.message || e);
  if (e.status === 401 || e.status === 403) signOut(true);
}

function age(ts) {
  if (!ts) return "-";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  return Math.round(s / 3600) + "h ago";
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (cls) td.className = cls;
  return td;
}

function button(label, onClick, id) {
  const b = document.createElement("button");
  b.textContent = label;
  if (id) b.id = id;
  b.addEventListener("click", (ev) => { ev.stopPropagation(); onClick(); });
  return b;
}

function fill(tableId, rows) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren(...rows);
}

function gib(n) { return (n / 1073741824).toFixed(1) + " GiB"; }

async function nodeAction(name, action) {
  try { await api("POST", "/admin/nodes/" + encodeURIComponent(name) + "/" + action); await refresh(); }
  catch (e) { showError(e); }
}

async function cancelJob(id) {
  try { await api("POST", "/admin/jobs/" + id + "/cancel"); await refresh(); }
  catch (e) { showError(e); }
}

async function follow(id) {
  followed = id;
  $("logpanel").hidden = false;
  $("logjob").textContent = String(id);
  const pre = $("log");
  pre.textContent = "";
  let offset = 0;
  while (followed === id) {
    try {
      const c = await api("GET", "/admin/jobs/" + id + "/log?offset=" + offset + "&waitSeconds=20");
      if (followed !== id) return;
      pre.textContent += c.content;
      pre.scrollTop = pre.scrollHeight;
      offset = c.nextOffset;
      if (c.complete) return;
    } catch (e) { showError(e); return; }
  }
}

async function refresh() {
  if (!token()) return;
  try {
    const [nodes, runners, jobs, apps] = await Promise.all([
      api("GET", "/admin/nodes"), api("GET", "/admin/runners"),
      api("GET", "/admin/jobs?limit=30"), api("GET", "/admin/apps"),
    ]);
    fill("nodes", nodes.map((n) => {
      const tr = document.createElement("tr");
      tr.dataset.node = n.nodeName;
      tr.append(cell(n.nodeName), cell(n.status, n.status),
        cell(n.diskFreePct.toFixed(1) + "% (" + gib(n.diskFreeBytes) + ")"),
        cell(n.containerCount), cell(n.placements), cell(age(n.lastHeartbeatAt)));
      const td = document.createElement("td");
      td.append(n.draining
        ? button("Undrain", () => nodeAction(n.nodeName, "undrain"), "undrain-" + n.nodeName)
        : button("Drain", () => nodeAction(n.nodeName, "drain"), "drain-" + n.nodeName));
      tr.append(td);
      return tr;
    }));
    fill("runners", runners.map((r) => {
      const tr = document.createElement("tr");
      tr.append(cell(r.runnerId), cell(r.status, r.status), cell(r.runningJobs), cell(r.jobsClaimed),
        cell(age(r.lastSeenAt)), cell(r.remoteAddr));
      return tr;
    }));
    fill("jobs", jobs.map((j) => {
      const tr = document.createElement("tr");
      tr.className = "clickable";
      tr.dataset.job = String(j.id);
      tr.addEventListener("click", () => follow(j.id));
      tr.append(cell(j.id), cell(j.appId), cell(j.status, j.status), cell(j.phase),
        cell(j.attempt + "/" + j.maxAttempts), cell(j.runnerId),
        cell(j.runtimeNode ? j.runtimeNode.nodeName : null), cell(age(j.createdAt)));
      const td = document.createElement("td");
      if (j.status === "PENDING" || (j.status === "RUNNING" && !j.cancelRequested)) {
        td.append(button("Cancel", () => cancelJob(j.id), "cancel-" + j.id));
      }
      tr.append(td);
      return tr;
    }));
    fill("apps", apps.map((a) => {
      const tr = document.createElement("tr");
      const url = document.createElement("td");
      if (a.deployUrl && /^https?:\/\//.test(a.deployUrl)) {
        const link = document.createElement("a");
        link.href = a.deployUrl;
        link.textContent = a.deployUrl;
        link.rel = "noopener noreferrer";
        url.append(link);
      } else {
        url.textContent = "-";
      }
      tr.append(cell(a.appId), cell(a.userId), cell(a.status, a.status), cell(a.nodeName), cell(a.image), url);
      return tr;
    }));
    showError(null);
    document.body.dataset.loaded = "yes";
  } catch (e) { showError(e); }
}

function signedIn() {
  const on = !!token();
  $("main").hidden = !on;
  $("signin").hidden = on;
  $("signout").hidden = !on;
  $("who").textContent = on ? "signed in" : "";
}

function signOut(keepError) {
  sessionStorage.removeItem(KEY);
  followed = null;
  signedIn();
  if (!keepError) showError(null);
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("token").value.trim());
    $("token").value = "";
    signedIn();
    refresh();
  });
  $("signout").addEventListener("click", () => signOut(false));
  $("logclose").addEventListener("click", () => { followed = null; $("logpanel").hidden = true; });
  signedIn();
  refresh();
  setInterval(refresh, 5000);
});
