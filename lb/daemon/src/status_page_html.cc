// The status page served at / on the metrics listener: one self-contained
// HTML document (no external fonts, scripts or images). Its script polls
// status.json (`lbctl stats --json`) every second, keeps the last 5 minutes
// of samples in memory and redraws the tables and the SVG charts in place;
// per-server rates are the differences of the servers' counters between
// polls. Elements carry stable classes and data- attributes
// (tr.server[data-service][data-server] > td.weight, ...) that
// tests/lb/daemon/status_page_test.py reads.
#include "lbd/daemon/status_page.h"

namespace lbd {

const std::string_view kStatusPageHtml = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lbd status</title>
<style>
:root {
  --bg: #f3f5f8; --card: #fff; --ink: #1d2330; --muted: #6b7385; --line: #e3e7ee;
  --up: #1f9d55; --down: #d64545; --drain: #d98a00; --off: #8a93a6;
  --conn: #3367d6; --in: #0f9d8a; --out: #c2410c;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; }
header { background: #1d2330; color: #fff; padding: 10px 24px; display: flex;
  align-items: center; gap: 16px; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; letter-spacing: .3px; }
header .version { color: #aab3c5; font-size: 12px; }
header .live { margin-left: auto; font-size: 13px; color: #cfd6e4; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 6px;
  background: var(--up); vertical-align: 0; }
.live.stale .dot { background: var(--down); }
main { padding: 18px 24px 32px; max-width: 1400px; margin: 0 auto; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .5px; }
.card .value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .value small { font-size: 14px; font-weight: 500; color: var(--muted); }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-top: 12px; }
@media (max-width: 900px) { .charts { grid-template-columns: 1fr; } }
.chart h3 { margin: 0 0 4px; font-size: 13px; font-weight: 600; }
.chart svg { width: 100%; height: 130px; display: block; }
.legend { font-size: 12px; color: var(--muted); margin-left: 8px; font-weight: 400; }
.legend i { display: inline-block; width: 10px; height: 3px; margin: 0 4px 3px 10px; }
svg text { font-size: 11px; fill: var(--muted); font-family: inherit; }
section.service { margin-top: 18px; background: var(--card); border: 1px solid var(--line);
  border-radius: 8px; overflow: hidden; }
.svc-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 18px; padding: 10px 14px;
  border-bottom: 1px solid var(--line); }
.svc-head h2 { margin: 0; font-size: 17px; }
.svc-head .meta { color: var(--muted); }
.svc-head .rates { margin-left: auto; font-variant-numeric: tabular-nums; }
.svc-head .rates b { font-weight: 600; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; table-layout: fixed; }
th { text-align: right; font-size: 12px; font-weight: 600; color: var(--muted); padding: 6px 12px;
  background: #fafbfc; border-bottom: 1px solid var(--line); white-space: nowrap; }
td { text-align: right; padding: 7px 12px; border-bottom: 1px solid var(--line); white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
tr:last-child td { border-bottom: 0; }
th.l, td.l { text-align: left; }
td.address { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
td.weight { font-weight: 600; }
.pill { display: inline-block; min-width: 68px; text-align: center; border-radius: 10px;
  padding: 1px 8px; font-size: 12px; font-weight: 700; color: #fff; letter-spacing: .4px; }
.pill.up { background: var(--up); } .pill.down { background: var(--down); }
.pill.drained { background: var(--drain); } .pill.disabled { background: var(--off); }
tr.state-down td { background: #fdf1f1; }
td.check { text-align: left; color: var(--muted); font-size: 12px; max-width: 260px;
  overflow: hidden; text-overflow: ellipsis; }
td.trend svg { width: 120px; height: 22px; display: block; margin-left: auto; }
.badge { border-radius: 4px; padding: 1px 6px; font-size: 12px; font-weight: 600; }
.badge.ok { background: #e3f4ea; color: #17703d; } .badge.bad { background: #fbe4e4; color: #a52a2a; }
.empty { color: var(--muted); padding: 14px; }
#error { color: var(--down); margin-top: 10px; }
</style>
</head>
<body>
<header>
  <h1>lbd status</h1><span class="version" id="version"></span>
  <span class="live" id="live"><span class="dot"></span><span id="live-text">connecting…</span></span>
</header>
<main>
  <div class="cards">
    <div class="card"><div class="label">Live connections</div><div class="value" id="c-live">–</div></div>
    <div class="card"><div class="label">New connections</div><div class="value" id="c-cps">–</div></div>
    <div class="card"><div class="label">Traffic in</div><div class="value" id="c-in">–</div></div>
    <div class="card"><div class="label">Traffic out</div><div class="value" id="c-out">–</div></div>
    <div class="card"><div class="label">Servers up</div><div class="value" id="c-up">–</div></div>
    <div class="card"><div class="label">Accepted total</div><div class="value" id="c-acc">–</div></div>
  </div>
  <div class="charts">
    <div class="card chart"><h3>Connections per second<span class="legend">last 5 min</span></h3>
      <svg id="chart-conn"></svg></div>
    <div class="card chart"><h3>Throughput<span class="legend"><i style="background:var(--in)"></i>in<i style="background:var(--out)"></i>out</span></h3>
      <svg id="chart-bytes"></svg></div>
  </div>
  <div id="error"></div>
  <div id="services"></div>
</main>
<script>
"use strict";
const SPAN = 300;  // seconds of history drawn and kept
const totals = [];  // {t, cps, bin, bout}
const servers = new Map();  // "svc|addr" -> {raw: {t,c,i,o}, hist: [{t,cps,bin,bout}]}

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g,
    (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
function num(n) { return Number(n).toLocaleString("en-US"); }
function rate(v) { return v < 10 ? v.toFixed(1) : num(Math.round(v)); }
function bytes(v) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; ++i; }
  return (i === 0 ? Math.round(v) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)) + " " + u[i];
}
function trim(a, now) { while (a.length && a[0].t < now - SPAN) a.shift(); }

function state(s) {
  if (s.disabled) return "disabled";
  if (!s.up) return "down";
  if (s.weight === 0) return "drained";
  return "up";
}

// A line chart of `series` ([{key, color, fill}]) over the last SPAN seconds.
function chart(svg, data, series, fmt, now, opts) {
  const w = svg.clientWidth || 600, h = svg.clientHeight || 130;
  const small = opts && opts.small;
  const left = small ? 1 : 62, right = small ? 1 : 6, top = small ? 2 : 8, bottom = small ? 2 : 18;
  const span = small ? 60 : SPAN;
  let max = 0;
  for (const p of data) for (const s of series) max = Math.max(max, p[s.key]);
  // The axis ends at a round number above the data: 1, 2, 2.5, 5 x 10^k.
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(max, 1e-9) * 1.05)));
  max = [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= max * 1.05) || 10 * p;
  if (!(max > 0)) max = 1;
  const x = (t) => left + (w - left - right) * (1 - (now - t) / span);
  const y = (v) => top + (h - top - bottom) * (1 - v / max);
  let out = "";
  if (!small) {
    for (let g = 0; g <= 2; ++g) {
      const v = max * g / 2, yy = y(v).toFixed(1);
      out += `<line x1="${left}" x2="${w - right}" y1="${yy}" y2="${yy}" stroke="#e3e7ee"/>`;
      out += `<text x="${left - 6}" y="${(+yy + 4).toFixed(1)}" text-anchor="end">${esc(fmt(v))}</text>`;
    }
    out += `<text x="${left}" y="${h - 3}">-${span / 60} min</text>`;
    out += `<text x="${w - right}" y="${h - 3}" text-anchor="end">now</text>`;
  }
  const shown = data.filter((p) => p.t >= now - span);
  for (const s of series) {
    if (shown.length === 0) continue;
    const pts = shown.map((p) => `${x(p.t).toFixed(1)},${y(p[s.key]).toFixed(1)}`);
    if (s.fill) {
      out += `<polygon fill="${s.fill}" points="${x(shown[0].t).toFixed(1)},${y(0).toFixed(1)} ` +
          `${pts.join(" ")} ${x(shown[shown.length - 1].t).toFixed(1)},${y(0).toFixed(1)}"/>`;
    }
    out += `<polyline fill="none" stroke="${s.color}" stroke-width="${small ? 1.5 : 2}" ` +
        `stroke-linejoin="round" points="${pts.join(" ")}"/>`;
  }
  svg.innerHTML = out;
}

// Per-server rates: the counters' differences between this poll and the last.
function sampleServer(key, s, now) {
  let e = servers.get(key);
  if (!e) { e = {raw: null, hist: []}; servers.set(key, e); }
  const raw = {t: now, c: s.connections, i: s.bytes_in, o: s.bytes_out};
  if (e.raw && now > e.raw.t && raw.c >= e.raw.c && raw.i >= e.raw.i && raw.o >= e.raw.o) {
    const dt = now - e.raw.t;
    e.hist.push({t: now, cps: (raw.c - e.raw.c) / dt, bin: (raw.i - e.raw.i) / dt,
                 bout: (raw.o - e.raw.o) / dt});
  }
  e.raw = raw;
  e.seen = now;
  trim(e.hist, now);
  // Shown: the mean of the last 3 samples, steadier than one second.
  const last = e.hist.slice(-3), n = last.length || 1;
  const sum = (k) => last.reduce((a, p) => a + p[k], 0) / n;
  return {e, cps: sum("cps"), bin: sum("bin"), bout: sum("bout")};
}

function checkText(c) {
  if (!c) return "no check";
  const last = c.last ? (c.last.success ? "ok" : "fail") + (c.last.message ? " · " + c.last.message : "") : "no result yet";
  return `${c.type} ${c.up ? "up" : "down"}: ${last}`;
}

function renderService(svc, d, now) {
  const sr = (d.service_rates || {})[svc.name] || {connections: 0, bytes_in: 0, bytes_out: 0};
  const q = svc.quorum || {};
  let rows = "";
  for (const s of svc.servers) {
    const st = state(s);
    const r = sampleServer(svc.name + "|" + s.address, s, now);
    rows += `<tr class="server state-${st}" data-service="${esc(svc.name)}" data-server="${esc(s.address)}">` +
        `<td class="l address">${esc(s.address)}</td>` +
        `<td class="l"><span class="pill ${st} state">${st.toUpperCase()}</span></td>` +
        `<td class="weight">${s.weight}</td><td class="active">${num(s.active)}</td>` +
        `<td class="inactive">${num(s.inactive)}</td><td class="cps">${rate(r.cps)}</td>` +
        `<td class="bin">${bytes(r.bin)}/s</td><td class="bout">${bytes(r.bout)}/s</td>` +
        `<td class="conns">${num(s.connections)}</td>` +
        `<td class="trend"><svg data-key="${esc(svc.name + "|" + s.address)}"></svg></td>` +
        `<td class="l check" title="${esc(checkText(s.check))}">${esc(checkText(s.check))}</td></tr>`;
  }
  if (!rows) rows = `<tr><td class="l empty" colspan="11">no real servers</td></tr>`;
  const quorum = q.up === false ? `<span class="badge bad">quorum lost${q.sorry_in_use ? " · sorry server in use" : ""}</span>`
                                : `<span class="badge ok">quorum ok</span>`;
  return `<section class="service" data-service="${esc(svc.name)}"><div class="svc-head">` +
      `<h2>${esc(svc.name)}</h2><span class="meta">TCP ${esc(svc.listen)} · ${esc(svc.scheduler)} · ` +
      `${esc(svc.forwarding)}${svc.persistence > 0 ? " · persistent " + svc.persistence + "s" : ""}</span>${quorum}` +
      `<span class="rates"><b>${rate(sr.connections)}</b> conn/s · in <b>${bytes(sr.bytes_in)}/s</b> · ` +
      `out <b>${bytes(sr.bytes_out)}/s</b> · ${num(svc.connections)} total</span></div>` +
      `<table><colgroup><col style="width:15%"><col style="width:9%"><col style="width:6%">` +
      `<col style="width:7%"><col style="width:7%"><col style="width:7%"><col style="width:9%">` +
      `<col style="width:9%"><col style="width:8%"><col style="width:10%"><col></colgroup><thead><tr><th class="l">Real server</th><th class="l">State</th><th>Weight</th>` +
      `<th>Active</th><th>Inactive</th><th>Conn/s</th><th>In/s</th><th>Out/s</th><th>Total</th>` +
      `<th>Conn/s, 1 min</th><th class="l">Health check</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function update(d) {
  const now = performance.now() / 1000;
  $("version").textContent = d.version || "";
  totals.push({t: now, cps: d.rates.connections, bin: d.rates.bytes_in, bout: d.rates.bytes_out});
  trim(totals, now);
  let up = 0, all = 0;
  for (const svc of d.services) for (const s of svc.servers) { ++all; if (state(s) === "up") ++up; }
  $("c-live").textContent = num(d.counters.live);
  $("c-cps").innerHTML = `${rate(d.rates.connections)} <small>/s</small>`;
  $("c-in").innerHTML = `${bytes(d.rates.bytes_in)}<small>/s</small>`;
  $("c-out").innerHTML = `${bytes(d.rates.bytes_out)}<small>/s</small>`;
  $("c-up").innerHTML = `${up} <small>of ${all}</small>`;
  $("c-up").style.color = up < all ? "var(--down)" : "";
  $("c-acc").textContent = num(d.counters.accepted);
  $("services").innerHTML = d.services.length ? d.services.map((s) => renderService(s, d, now)).join("")
                                              : `<div class="card empty">no virtual services</div>`;
  for (const [k, e] of servers) if (e.seen !== now) servers.delete(k);
  for (const svg of document.querySelectorAll("td.trend svg")) {
    const e = servers.get(svg.dataset.key);
    if (e) chart(svg, e.hist, [{key: "cps", color: "#3367d6", fill: "rgba(51,103,214,.15)"}], rate, now, {small: true});
  }
  chart($("chart-conn"), totals, [{key: "cps", color: "#3367d6", fill: "rgba(51,103,214,.15)"}], rate, now);
  chart($("chart-bytes"), totals, [{key: "bin", color: "#0f9d8a"}, {key: "bout", color: "#c2410c"}],
        (v) => bytes(v) + "/s", now);
}

function setLive(ok, why) {
  $("live").classList.toggle("stale", !ok);
  $("live-text").textContent = ok ? "live · updated " + new Date().toLocaleTimeString("en-GB")
                                  : "no answer from lbd (" + why + ")";
  $("error").textContent = "";
}

async function poll() {
  try {
    const r = await fetch("status.json", {cache: "no-store", credentials: "same-origin"});
    if (!r.ok) throw new Error("HTTP " + r.status);
    update(await r.json());
    setLive(true);
  } catch (e) {
    setLive(false, e.message);
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
)html";

}  // namespace lbd
